// Sharded runs of the real binary: a requeued shard, and a real single-node Slurm (Debian's
// slurmctld/slurmd/munge on loopback, tests/cluster/local-slurm.sh) running a job array.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "io/run_config.h"
#include "io/inputs.h"
#include "io/outputs.h"
#include "io/shards.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

json load(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

// A dataset of 16 small images with the CLI fixture's model, run on the CPU.
struct Dataset : CliFixture {
  Dataset() {
    flags = "-q --progress none";
    device = "cpu";
    for (int i = 0; i < 16; ++i)
      add_image("im" + std::to_string(i) + ".png",
                make_image(64, 48, kBlack, {{4 + i, 4, 30 + i, 20, kRed}, {20, 28, 60 - i, 44, kBlue}}));
  }
  std::string cmd(const std::string& out) const { return command("--input " + images + " --out " + out); }
  // The shard (of n) with the most images, so that killing it mid-way leaves work to resume.
  int busiest_shard(int n) const {
    IoOptions io;
    io.input = {images};
    const auto inputs = collect_inputs(io);
    int best = 0;
    size_t most = 0;
    for (int i = 0; i < n; ++i)
      if (const size_t s = inputs_of_shard(inputs, {i, n}).size(); s > most) {
        most = s;
        best = i;
      }
    return best;
  }
};

// Shell: wait until `journal` holds a complete line, polling with builtins only (no process per
// poll, no sleep), so the short window between the first journalled image and the shard's commit
// (which removes the journal) cannot pass unseen on a loaded machine; give up after 120 s with a
// message instead of waiting forever.
std::string wait_for_journal_line(const std::string& journal) {
  // `read` succeeds only on a newline-terminated line: a line being written does not count.
  return "has_line() { local l; IFS= read -r l < \"$1\"; }; t0=$SECONDS; until has_line " + journal +
         " 2>/dev/null; do if [ $((SECONDS - t0)) -gt 120 ]; then echo 'no journalled image within 120 s' >&2; "
         "break; fi; done";
}

bool same_images_and_annotations(const json& a, const json& b) {
  return a["images"] == b["images"] && a["annotations"] == b["annotations"] && a["categories"] == b["categories"];
}

}  // namespace

TEST_CASE("A shard commits its done marker last and resumes when rerun", "[cli][shards]") {
  Dataset d;
  const std::string single = d.dir.file("single.json"), out = d.dir.file("m.json");
  REQUIRE(run_command(d.cmd(single)) == 0);
  const int k = d.busiest_shard(4);
  const Shard shard{k, 4};
  const std::string part = shard_path(out, shard), marker = shard_done_path(out, shard);
  // SIGTERM once an image is journalled: valid output of the finished images, no marker.
  const std::string script = d.cmd(out) + " --shard " + std::to_string(k) + "/4 & pid=$!; " +
                             wait_for_journal_line(part + ".partial.jsonl") + "; kill -TERM $pid; wait $pid; exit $?";
  CHECK(d.bash(script, "term.sh") == 143);
  CHECK(fs::exists(part));
  CHECK_FALSE(fs::exists(marker));
  // The rerun resumes and commits; the marker is not older than the output.
  REQUIRE(run_command(d.cmd(out) + " --shard " + std::to_string(k) + "/4") == 0);
  REQUIRE(fs::exists(marker));
  CHECK(fs::last_write_time(marker) >= fs::last_write_time(part));
  // A complete shard is not redone.
  const auto before = fs::last_write_time(part);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(run_command(d.cmd(out) + " --shard " + std::to_string(k) + "/4") == 0);
  CHECK(fs::last_write_time(part) == before);
  // The other shards, then merge: the same images and masks as one run.
  for (int i = 0; i < 4; ++i)
    if (i != k) REQUIRE(run_command(d.cmd(out) + " --shard " + std::to_string(i) + "/4") == 0);
  REQUIRE(d.run_binary("merge -q --out " + out).rc == 0);
  CHECK(same_images_and_annotations(load(out), load(single)));
  // The merged file records one unsharded run writing it: the single run's config but its path.
  const std::string merged = load(out)["info"]["sam2_amg"]["config"], one = load(single)["info"]["sam2_amg"]["config"];
  CHECK(merged.find("\nshard: \"\"\n") != std::string::npos);
  CHECK(merged.find("\nout: \"" + out + "\"\n") != std::string::npos);
  std::string renamed = one;
  renamed.replace(renamed.find(single), single.size(), out);
  CHECK(merged == renamed);
  // merge names what is missing and exits 6.
  fs::remove(shard_done_path(out, {(k + 1) % 4, 4}));
  const CliResult merge = d.run_binary("merge --out " + out);
  CHECK(merge.rc == 6);
  CHECK(merge.err.find("not finished") != std::string::npos);
}

TEST_CASE("A Slurm job array of 4 shards, one killed and requeued, merges to a single run", "[cli][slurm]") {
  Dataset d;
  const std::string cluster = d.dir.file("slurm");
  const std::string starter = std::string(SAM2AMG_SOURCE_DIR) + "/tests/cluster/local-slurm.sh";
  const int started = run_command(starter + " start " + cluster + " > " + d.dir.file("slurm-env.txt") + " 2> " +
                                  d.dir.file("slurm-err.txt"));
  if (started != 0) SAM2AMG_SKIP("a local Slurm could not be started here: " + slurp(d.dir.file("slurm-err.txt")));
  struct Stop {
    std::string cmd;
    ~Stop() { run_command(cmd); }
  } stop{starter + " stop " + cluster};
  const std::string env = "SLURM_CONF=" + cluster + "/slurm.conf ";

  const std::string single = d.dir.file("single.json");
  REQUIRE(run_command(d.cmd(single)) == 0);

  // Done when squeue answers and lists nothing of the job. A squeue that fails (a busy
  // controller times out) says nothing: it was read as "done" before, which failed the checks
  // that follow now and then on a loaded machine.
  auto wait_for = [&](const std::string& job, int seconds) {
    const std::string listing = d.dir.file("squeue.txt");
    for (int i = 0; i < seconds * 10; ++i) {
      if (run_command(env + "squeue -h -j " + job + " > " + listing + " 2>&1") == 0 && slurp(listing).empty())
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  };
  auto submit = [&](const std::string& script) {
    const std::string path = d.dir.file("job.sh");
    std::ofstream(path) << script;
    fs::permissions(path, fs::perms::owner_all);
    REQUIRE(run_command(env + "sbatch --parsable --array=0-3 --requeue -o " + d.dir.file("slurm-%A_%a.out") + " " +
                        path + " > " + d.dir.file("jobid.txt")) == 0);
    std::string id = slurp(d.dir.file("jobid.txt"));
    id.erase(id.find_last_not_of(" \n") + 1);
    return id;
  };

  SECTION("uninterrupted") {
    const std::string out = d.dir.file("a/masks.json");
    fs::create_directories(d.dir.file("a"));
    // The shard comes from SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT.
    const std::string job = submit("#!/bin/bash\nexec " + d.cmd(out) + "\n");
    REQUIRE(wait_for(job, 300));
    for (int i = 0; i < 4; ++i) CHECK(fs::exists(shard_done_path(out, {i, 4})));
    REQUIRE(d.run_binary("merge -q --out " + out).rc == 0);
    CHECK(same_images_and_annotations(load(out), load(single)));
  }

  SECTION("one shard killed mid-way and requeued") {
    const std::string out = d.dir.file("b/masks.json");
    fs::create_directories(d.dir.file("b"));
    const int k = d.busiest_shard(4);
    const std::string journal = shard_path(out, {k, 4}) + ".partial.jsonl";
    // First attempt of shard k: SIGKILL once it has journalled an image, then fail.
    const std::string script = "#!/bin/bash\n"
                               "if [ \"$SLURM_ARRAY_TASK_ID\" = " + std::to_string(k) +
                               " ] && [ \"${SLURM_RESTART_COUNT:-0}\" = 0 ]; then\n  " + d.cmd(out) +
                               " & pid=$!\n  " + wait_for_journal_line(journal) + "\n"
                               "  kill -9 $pid; exit 1\nfi\nexec " + d.cmd(out) + "\n";
    const std::string job = submit(script);
    REQUIRE(wait_for(job, 300));
    CHECK_FALSE(fs::exists(shard_done_path(out, {k, 4})));
    CHECK(d.run_binary("merge --out " + out).rc == 6);
    const std::string task = job + "_" + std::to_string(k);
    REQUIRE(run_command(env + "scontrol requeue " + task) == 0);
    // Slurm delays a requeued job; without the delay, slurmd can still hold the first attempt as
    // "already killed" and refuse the launch (the task fails at once, exit 1, no output: seen
    // about once in six runs here). A few seconds are enough and keep the test short.
    REQUIRE(run_command(env + "scontrol update jobid=" + task + " StartTime=now+5") == 0);
    REQUIRE(wait_for(job, 300));
    // On failure: what Slurm says of the task, and what the task printed.
    run_command(env + "scontrol show job " + task + " > " + d.dir.file("task.txt") + " 2>&1");
    run_command("tail -n 40 " + cluster + "/log/slurmd.log > " + d.dir.file("slurmd.txt") + " 2>&1");
    INFO("scontrol show job " << task << ":\n" << slurp(d.dir.file("task.txt")) << "\ntask output:\n"
                              << slurp(d.dir.file("slurm-" + job + "_" + std::to_string(k) + ".out"))
                              << "\nslurmd log:\n" << slurp(d.dir.file("slurmd.txt")));
    REQUIRE(fs::exists(shard_done_path(out, {k, 4})));
    CHECK(slurp(d.dir.file("task.txt")).find("Restarts=1") != std::string::npos);
    REQUIRE(d.run_binary("merge -q --out " + out).rc == 0);
    CHECK(same_images_and_annotations(load(out), load(single)));
  }
}
