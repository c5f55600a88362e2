#include "io/bench_json.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "common/error.h"
#include "io/json_files.h"

namespace sam2amg {

using nlohmann::json;

double percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const auto n = static_cast<double>(values.size());
  const auto rank = static_cast<std::int64_t>(std::ceil(q * n / 100.0)) - 1;
  return values[static_cast<size_t>(std::clamp<std::int64_t>(rank, 0, static_cast<std::int64_t>(values.size()) - 1))];
}

std::vector<BenchStageName> bench_stages() {
  std::vector<BenchStageName> out{{"read", "read", 6, &BenchStages::read}, {"prepare", "prepare", 7, &BenchStages::prepare}};
  for (const StageName& s : kStages) out.push_back({s.key, s.heading, s.width, s.seconds});
  out.push_back({"write", "write", 6, &BenchStages::write});
  return out;
}

ReferenceBench read_reference_bench(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError("the reference bench wrote no report '" + printable(path) + "' (see its messages above)");
  const json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw UsageError("the reference bench report '" + printable(path) + "' is not JSON");
  ReferenceBench r;
  try {
    const json& s = j.at("summary");
    r.summary.p50_seconds = s.at("p50_seconds").get<double>();
    r.summary.p90_seconds = s.at("p90_seconds").get<double>();
    r.summary.images_per_second = s.at("images_per_second").get<double>();
    r.summary.peak_rss_bytes = s.at("peak_rss_bytes").get<std::int64_t>();
    const json& cuda = s.value("cuda_peak_allocated_bytes", json());
    r.summary.device_peak_bytes = cuda.is_number() ? cuda.get<std::int64_t>() : -1;
    r.summary.masks_total = s.value("masks_total", std::int64_t{0});
    r.summary.p50_encoder_seconds = s.value("p50_encoder_seconds", 0.0);
    const json& setup = j.at("setup");
    r.torch_version = setup.value("torch_version", std::string());
    r.device = setup.value("device", std::string());
    r.threads = setup.value("threads", 0);
    for (const json& lib : setup.value("blas", json::object()).value("loaded", json::array()))
      r.blas += (r.blas.empty() ? "" : ", ") + lib.get<std::string>();
  } catch (const json::exception& e) {
    throw UsageError("the reference bench report '" + printable(path) + "' lacks a field: " + e.what());
  }
  return r;
}

namespace {

json stages_json(const BenchStages& s) {
  json j = json::object();
  for (const BenchStageName& stage : bench_stages()) j[stage.key] = s.*stage.seconds;
  return j;
}

json summary_json(const BenchSummary& s) {
  // The keys of bench_reference.py's summary, so one report reader serves both.
  return {{"p50_seconds", s.p50_seconds},
          {"p90_seconds", s.p90_seconds},
          {"p50_encoder_seconds", s.p50_encoder_seconds},
          {"images_per_second", s.images_per_second},
          {"peak_rss_bytes", s.peak_rss_bytes},
          {"cuda_peak_allocated_bytes", s.device_peak_bytes < 0 ? json() : json(s.device_peak_bytes)},
          {"masks_total", s.masks_total}};
}

}  // namespace

void write_bench_json(const std::string& path, const BenchReport& report) {
  json setup = json::object();
  for (const auto& [k, v] : report.setup) setup[k] = v;
  json images = json::array();
  for (const BenchImage& im : report.images)
    images.push_back({{"path", im.path},
                      {"width", im.width},
                      {"height", im.height},
                      {"masks", im.masks},
                      {"seconds", im.seconds},
                      {"median_stage_seconds", stages_json(im.median)},
                      {"host_reads", im.host_reads},
                      {"device_syncs", im.device_syncs < 0 ? json() : json(im.device_syncs)}});
  json funnel = json::object();
  for (const auto& [name, count] : funnel_stages(report.funnel)) funnel[name] = count;
  json paths = json::object();
  for (const auto& [part, name] : report.loop.paths) paths[part] = name;
  const BenchLoop& l = report.loop;
  json summary = summary_json(report.summary);
  summary["host_reads_per_image"] = l.host_reads_per_image;
  summary["device_syncs_per_image"] = l.device_syncs_per_image < 0 ? json() : json(l.device_syncs_per_image);
  summary["stage_clock"] = l.stage_clock;
  json doc{{"tool", "sam2-amg bench"}, {"setup", setup}, {"images", images}, {"summary", summary},
           {"paths", paths},           {"funnel", funnel}};
  if (report.has_reference) {
    const ReferenceBench& r = report.reference;
    doc["reference"] = {{"summary", summary_json(r.summary)},
                        {"torch_version", r.torch_version},
                        {"device", r.device},
                        {"threads", r.threads},
                        {"blas", r.blas}};
    if (report.summary.p50_seconds > 0)
      doc["speedup_p50"] = r.summary.p50_seconds / report.summary.p50_seconds;
    if (r.summary.images_per_second > 0)
      doc["speedup_images_per_second"] = report.summary.images_per_second / r.summary.images_per_second;
  }
  write_file_atomically(path, dump_json(doc, 2) + "\n");
}

}  // namespace sam2amg
