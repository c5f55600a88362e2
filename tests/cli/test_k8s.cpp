// The Kubernetes recipe (scripts/k8s/sam2-amg-indexed-job.yaml), checked without a cluster: its
// container command runs here as a pod would run it (same script, same environment names, the
// paths pointed at a generated dataset), and its failure policy is read from the file.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;

namespace {

const std::string kRecipe = std::string(SAM2AMG_SOURCE_DIR) + "/scripts/k8s/sam2-amg-indexed-job.yaml";

// The CLI fixture's dataset and its own copy of the model (a test breaks it), as a pod sees them.
struct Pod : CliFixture {
  YAML::Node job = YAML::LoadFile(kRecipe);
  YAML::Node container = job["spec"]["template"]["spec"]["containers"][0];
  std::string out = dir.file("out/masks.json");

  explicit Pod(int n_images, int size) {
    own_model("model.pt");
    fs::create_directories(dir.file("out"));
    for (int i = 0; i < n_images; ++i)
      add_image("im" + std::to_string(i) + ".png",
                make_image(size, size * 3 / 4, kBlack, {{size / 8, size / 8, size / 2, size / 2, kRed}}));
  }
  // The container's command line, with its environment: the recipe's variables, the paths of
  // this dataset, one shard, and the binary under test as `sam2-amg` on the PATH.
  std::string container_command() const {
    REQUIRE(container["command"][0].as<std::string>() == "/bin/sh");
    REQUIRE(container["command"][1].as<std::string>() == "-c");
    std::ofstream(dir.file("pod.sh")) << container["args"][0].as<std::string>();
    std::string env = "env -u SLURM_ARRAY_TASK_ID -u SLURM_ARRAY_TASK_COUNT PATH=" +
                      fs::path(cli_binary()).parent_path().string() + ":$PATH JOB_COMPLETION_INDEX=0";
    for (const auto& e : container["env"]) {
      const std::string name = e["name"].as<std::string>();
      std::string value = e["value"].as<std::string>();
      if (name == "SAM2AMG_SHARD_COUNT") value = "1";
      if (name == "SAM2AMG_MODEL") value = model;
      if (name == "SAM2AMG_IMAGES") value = images;
      if (name == "SAM2AMG_OUT") value = out;
      env += " " + name + "='" + value + "'";
    }
    return env + " /bin/sh " + dir.file("pod.sh") + " 2> " + dir.file("pod.log");
  }
  std::string marker() const { return dir.file("out/masks.shard-00000-of-00001.done.json"); }
};

std::vector<int> fail_index_codes(const YAML::Node& job) {
  std::vector<int> codes;
  for (const auto& rule : job["spec"]["podFailurePolicy"]["rules"])
    if (rule["action"].as<std::string>() == "FailIndex" && rule["onExitCodes"])
      for (const auto& v : rule["onExitCodes"]["values"]) codes.push_back(v.as<int>());
  return codes;
}

}  // namespace

TEST_CASE("Kubernetes recipe: exit 4 (shard committed, some images unreadable) is a pod success", "[cli][k8s]") {
  Pod pod(3, 64);
  std::ofstream(pod.images + "/broken.png") << "not a PNG";
  REQUIRE(run_command(pod.container_command()) == 0);
  CHECK(fs::exists(pod.marker()));
  CHECK(slurp(pod.dir.file("pod.log")).find("broken.png") != std::string::npos);
  // sam2-amg itself exits 4 on this input: the recipe is what makes it a success.
  fs::remove(pod.marker());
  CHECK(
      pod.run_binary("-q --model " + pod.model + " --input " + pod.images + " --jsonl " + pod.dir.file("direct.jsonl"))
          .rc == 4);
  // Usage and model errors fail the index at once; 4 is not among them, nor the retryable codes.
  const std::vector<int> codes = fail_index_codes(pod.job);
  for (int code : {1, 2, 3}) CHECK(std::count(codes.begin(), codes.end(), code) == 1);
  for (int code : {0, 4, 5, 75, 143}) CHECK(std::count(codes.begin(), codes.end(), code) == 0);
  // A model error goes through the wrapper unchanged (exit 3).
  fs::remove(pod.model);
  std::ofstream(pod.model) << "not a model";
  CHECK(run_command(pod.container_command()) == 3);
}

TEST_CASE("Kubernetes recipe: SIGTERM to the pod reaches sam2-amg, which stops with valid output", "[cli][k8s]") {
  Pod pod(6, 384);
  const std::string journal = pod.dir.file("out/masks.shard-00000-of-00001.json.partial.jsonl");
  // Eviction: the kubelet sends SIGTERM to the container's first process, the shell.
  const std::string script =
      pod.container_command() + " & pid=$!; " + Pod::wait_for_lines(journal, 1) + "; kill -TERM $pid; wait $pid";
  CHECK(pod.bash(script, "evict.sh") == 143);
  // The pod ended when sam2-amg did (its lock is gone), before the shard was complete.
  CHECK_FALSE(fs::exists(pod.dir.file("out/masks.shard-00000-of-00001.json.lock")));
  CHECK_FALSE(fs::exists(pod.marker()));
  CHECK(fs::exists(pod.dir.file("out/masks.shard-00000-of-00001.json")));
  // The replacement pod resumes and commits the shard.
  REQUIRE(run_command(pod.container_command()) == 0);
  CHECK(fs::exists(pod.marker()));
}
