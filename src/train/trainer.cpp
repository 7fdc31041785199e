#include "src/train/trainer.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "src/data/class_tables.h"
#include "src/data/train_clips.h"
#include "src/io/atomic_file.h"
#include "src/models/model_file.h"
#include "src/models/parameters.h"
#include "src/train/checkpoint.h"
#include "src/train/init.h"
#include "src/train/loss_scale.h"
#include "src/train/param_groups.h"
#include "src/train/plot.h"
#include "src/train/validate.h"
#include "tv3s/autocast.h"
#include "tv3s/autograd.h"
#include "tv3s/device.h"
#include "tv3s/ops.h"

namespace tv3s::train {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// --- SIGINT: finish the iteration, checkpoint, stop. A second Ctrl-C kills as usual. ---
std::atomic<bool> g_interrupted{false};
void on_sigint(int) {
  g_interrupted = true;
  std::signal(SIGINT, SIG_DFL);
}
struct SigintScope {
  using Handler = void (*)(int);
  Handler previous;
  SigintScope() : previous(std::signal(SIGINT, on_sigint)) { g_interrupted = false; }
  ~SigintScope() { std::signal(SIGINT, previous); }
};

Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::CPU;
  TV3S_CHECK(cuda_available(), "device \"cuda\": no usable CUDA GPU");
  return Device::CUDA;
}

data::ClassTable dataset_classes(const std::string& root, data::DatasetKind kind) {
  const std::string file = (fs::path(root) / "classes.json").string();
  if (fs::exists(file)) return data::read_class_file(file);
  return kind == data::DatasetKind::vspw ? data::vspw_classes() : data::cityscapes_classes();
}

// History for the plot, rebuilt from the log on resume.
struct History {
  std::vector<double> iter, loss;
  std::vector<double> val_iter, miou, mvc8;
};

// Keeps the log's lines up to iteration `last` (a resumed run replays what came after
// its checkpoint) and reads them into `history`.
void rewind_log(const std::string& path, int64_t last, History& history) {
  std::ifstream in(path);
  if (!in) return;
  std::string kept, line;
  while (std::getline(in, line)) {
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception&) {
      break;  // a torn last line from a killed run
    }
    if (!j.contains("iter") || j["iter"].get<int64_t>() > last) continue;
    kept += line + "\n";
    const double it = double(j["iter"].get<int64_t>());
    if (j.contains("val")) {
      history.val_iter.push_back(it);
      history.miou.push_back(j["val"].value("mIoU", NAN));
      history.mvc8.push_back(j["val"]["mVC8"].is_number() ? j["val"]["mVC8"].get<double>() : NAN);
    } else if (j.contains("loss")) {
      history.iter.push_back(it);
      history.loss.push_back(j["loss"].get<double>());
    }
  }
  io::write_file_atomic(path, kept);
}

// Two panels over the whole run (x from 0 to the last iteration, so that they line up):
// the loss on a log axis, raw and smoothed, and validation mIoU / mVC8 in percent.
void draw_plot(const std::string& path, const History& h, int64_t iters) {
  PlotPanel loss{"training loss", "iteration", "loss", {}, true};
  loss.series.push_back({"loss", h.iter, h.loss, {170, 190, 230}, false, true, 1.0});
  loss.series.push_back({"smoothed", h.iter, smooth_ema(h.loss, 0.95), {20, 60, 160}, false, true, 2.0});
  PlotPanel val{"validation", "iteration", "%", {}, false};
  auto percent = [](std::vector<double> v) {
    for (double& x : v) x *= 100;
    return v;
  };
  val.series.push_back({"mIoU", h.val_iter, percent(h.miou), {200, 60, 40}, true});
  val.series.push_back({"mVC8", h.val_iter, percent(h.mvc8), {40, 150, 70}, true});
  val.y_min = 0, val.y_max = 100;
  for (PlotPanel* p : {&loss, &val}) p->x_min = 0, p->x_max = double(iters);
  write_plot_png(path, {loss, val});
}

// Whether every parameter's gradient is finite (a parameter without one counts as finite).
// One count over all of them: on CUDA a single device-to-host sync per step.
bool gradients_finite(const AdamW& optimizer) {
  std::vector<Tensor> grads;
  for (const AdamW::Param& p : optimizer.params())
    if (Tensor g = p.tensor.grad(); g.defined()) grads.push_back(std::move(g));
  return count_nonfinite(grads) == 0;
}

std::string hms(double seconds) {
  const int64_t s = int64_t(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", (long long)(s / 3600), (long long)(s / 60 % 60),
                (long long)(s % 60));
  return buf;
}

}  // namespace

int run_training(const TrainRun& run) {
  TrainConfig config = run.config;
  const Device device = parse_device(config.device);
  TV3S_CHECK(!config.data_root.empty(), "no training data: give --data ROOT or \"data.root\" in the config");
  const data::DatasetKind kind = data::parse_dataset_kind(config.dataset);
  const bool chatty = !run.quiet;

  // --- data first: a bad root fails before any folder is made ---
  const data::TrainClips clips = data::TrainClips::open(config.data_root, kind, config.split);
  const data::ClassTable classes = dataset_classes(config.data_root, kind);
  if (config.model.num_classes == 0) config.model.num_classes = classes.size();
  TV3S_CHECK(config.model.num_classes == classes.size(), config.data_root, ": the dataset has ",
             classes.size(), " classes, the config asks for ", config.model.num_classes);
  config.model.class_names = classes.names;
  config.model.palette = classes.palette;
  config.model.source = "tv3s train";
  data::EvalSet val_set;
  const bool validating = !config.val_split.empty();
  if (validating) {
    data::EvalOptions listing;
    listing.split = config.val_split;
    listing.limit = config.val_videos;
    val_set = data::list_eval_set(config.data_root, kind, listing);
  }

  io::make_output_folder(run.out_dir);
  const std::string ckpt_path = (fs::path(run.out_dir) / "checkpoint.safetensors").string();
  const std::string log_path = (fs::path(run.out_dir) / "log.jsonl").string();
  const std::string plot_path = (fs::path(run.out_dir) / "plot.png").string();
  const std::string model_path = (fs::path(run.out_dir) / "model.safetensors").string();

  // --- weights, optimizer, RNG: fresh or from the checkpoint ---
  Rng rng(config.seed ^ 0x5eed5eed5eedULL);
  Weights weights;
  int64_t start = 0;
  TrainCheckpoint resumed;
  History history;
  if (run.resume) {
    TV3S_CHECK(fs::exists(ckpt_path), ckpt_path, ": no checkpoint to resume from");
    resumed = load_checkpoint(ckpt_path);
    TV3S_CHECK(resumed.train_config_json == config.identity_json(), ckpt_path,
               ": was written by a run with another configuration (model, data, augmentation, "
               "optimizer, schedule, batch or seed differ); resume with the same config");
    std::map<std::string, Tensor> tensors;
    for (auto& [name, t] : resumed.model) tensors.emplace(name, t.to(device));
    weights = Weights(std::move(tensors));
    start = resumed.iteration;
    rng.load(resumed.rng);
    rewind_log(log_path, start, history);
    if (chatty) std::fprintf(stderr, "resuming %s at iteration %lld\n", ckpt_path.c_str(), (long long)start);
  } else {
    weights = initial_weights(config.model, config.seed, device);
    if (!config.pretrained.empty()) {
      load_backbone(weights, config.model, config.pretrained);
      if (chatty) std::fprintf(stderr, "backbone from %s\n", config.pretrained.c_str());
    }
    if (!config.init.empty()) {
      const std::string summary = init_from_model(weights, config.model, config.init);
      if (chatty) std::fprintf(stderr, "%s\n", summary.c_str());
    }
    io::write_file_atomic(log_path, std::string());
  }
  TV3S_CHECK(start < config.iters, ckpt_path, ": already at iteration ", start, " of ", config.iters,
             ": the run is complete (its model is model.safetensors)");
  io::write_file_atomic((fs::path(run.out_dir) / "config.json").string(), config.to_json());

  // Leaves on the table's own handles: the optimizer and every module bound later share them.
  const std::vector<std::string> trainable = trainable_parameters(weights);
  weights.requires_grad(trainable);
  std::vector<std::pair<std::string, Tensor>> params;
  for (const std::string& name : trainable) params.emplace_back(name, weights.get(name));
  AdamW optimizer(params, config.optimizer);
  if (run.resume) optimizer.load_state({resumed.adam_m, resumed.adam_v, resumed.adam_steps}, ckpt_path);
  const PolySchedule schedule = config.schedule();
  // Mixed precision: the forward pass's matrix products in bf16/f16 (tv3s/autocast.h);
  // weights, optimizer and everything else stay f32. f16 needs dynamic loss scaling.
  const DType compute = precision_dtype(config.precision);
  LossScaler scaler(compute == DType::f16, config.loss_scale);
  if (run.resume) scaler.restore(resumed.loss_scale, resumed.loss_scale_good_steps);
  if (chatty && compute != DType::f32 && device == Device::CPU)
    std::fprintf(stderr, "precision %s: emulated on the CPU (rounded operands, f32 arithmetic) — for checking "
                 "accuracy; it is slower than fp32\n", config.precision.c_str());

  auto save = [&](int64_t iteration) {
    TrainCheckpoint c;
    c.iteration = iteration;
    for (const auto& [name, t] : weights.all()) c.model.emplace(name, t.detach().cpu());
    AdamWState state = optimizer.save_state();
    c.adam_m = std::move(state.m), c.adam_v = std::move(state.v), c.adam_steps = std::move(state.steps);
    rng.save(c.rng);
    c.loss_scale = scaler.scale(), c.loss_scale_good_steps = scaler.good_steps();
    c.model_config_json = json(config.model.to_metadata()).dump();
    c.train_config_json = config.identity_json();
    save_checkpoint(ckpt_path, c);
  };

  std::ofstream log(log_path, std::ios::app);
  TV3S_CHECK(log, log_path, ": cannot open the log for writing");
  auto log_line = [&](const json& j) {
    log << j.dump() << "\n";
    log.flush();
  };

  auto run_validation = [&](int64_t iteration) {
    if (!validating) return;
    const ValResult v = validate(config.model, weights, val_set, config.val_mode);
    json val = {{"mIoU", v.miou}, {"frames", v.frames}, {"videos", v.videos}, {"seconds", v.seconds}};
    val["mVC8"] = std::isnan(v.mvc8) ? json() : json(v.mvc8);
    val["mVC16"] = std::isnan(v.mvc16) ? json() : json(v.mvc16);
    log_line({{"iter", iteration}, {"val", val}});
    history.val_iter.push_back(double(iteration));
    history.miou.push_back(v.miou);
    history.mvc8.push_back(v.mvc8);
    if (chatty)
      std::fprintf(stderr, "\r\033[Kiteration %lld: val mIoU %.2f %%  mVC8 %.2f %%  mVC16 %.2f %%  (%lld frames, %.1f s)\n",
                   (long long)iteration, 100 * v.miou, 100 * v.mvc8, 100 * v.mvc16, (long long)v.frames,
                   v.seconds);
  };

  // --- the loop ---
  SigintScope sigint;
  const bool bar = chatty && isatty(STDERR_FILENO);
  const auto t0 = std::chrono::steady_clock::now();
  auto last_draw = t0 - std::chrono::seconds(1);
  int64_t done_here = 0;
  const int64_t stop_at = run.stop_after > 0 ? std::min(run.stop_after, config.iters) : config.iters;
  for (int64_t it = start; it < stop_at; ++it) {
    const data::ClipBatch batch = clips.batch(config.batch_size, config.seed, it, config.augment);
    const Tensor images = batch.images.to(device), labels = batch.labels.to(device);
    Loss loss;
    {
      const AutocastScope autocast(compute);
      const TrainOutputs out = forward_train(config.model, weights, images, config.frames, config.stochastic, rng);
      loss = compute_loss(out, labels, config.frames, config.loss);
    }
    const double value = loss.total.detach().cpu().item();
    // Divergence stops before the update, so the last checkpoint stays good.
    auto diverged = [&](const std::string& what) {
      if (bar) std::fputc('\n', stderr);
      std::fprintf(stderr,
                   "tv3s train: %s at iteration %lld: training diverged; stopped before the update. The "
                   "last checkpoint (%s) is intact; try a lower learning rate\n",
                   what.c_str(), (long long)(it + 1), fs::exists(ckpt_path) ? ckpt_path.c_str() : "none written yet");
      log_line({{"iter", it + 1}, {"diverged", true}});
      return kDiverged;
    };
    if (!std::isfinite(value)) return diverged(std::isnan(value) ? "the loss is NaN" : "the loss is infinite");
    autograd::backward(scaler.enabled() ? loss.total * scaler.scale() : loss.total);
    // A finite loss can still have non-finite gradients: with loss scaling that is an
    // overflow (skip the step, the scale halves); otherwise divergence, stopped before the
    // update like a non-finite loss.
    const double loss_scale = scaler.scale();
    const bool finite = gradients_finite(optimizer);
    const bool stepping = scaler.update(finite);
    if (!finite && !scaler.enabled()) return diverged("a gradient holds NaN/Inf (the loss is finite)");
    const double factor = schedule.factor(it);
    if (stepping) optimizer.step(factor, 1.0 / loss_scale);
    optimizer.zero_grad();
    ++done_here;

    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double clips_per_s = double(done_here * config.batch_size) / seconds;
    const double lr = config.optimizer.lr * factor;
    json line = {{"iter", it + 1}, {"loss", value}, {"loss_aux", loss.aux}, {"loss_main", loss.main},
                 {"lr", lr}, {"lr_head", 10 * lr}, {"clips_per_s", clips_per_s}, {"seconds", seconds}};
    if (scaler.enabled()) line["loss_scale"] = loss_scale;
    if (!stepping) line["skipped"] = true;  // gradients overflowed at this loss scale
    log_line(line);
    history.iter.push_back(double(it + 1));
    history.loss.push_back(value);

    const int64_t iteration = it + 1;
    const bool last = iteration == config.iters;
    const bool stopping = g_interrupted || iteration == stop_at;
    if (bar && (std::chrono::steady_clock::now() - last_draw > std::chrono::milliseconds(200) || last)) {
      last_draw = std::chrono::steady_clock::now();
      const double eta = double(config.iters - iteration) * seconds / double(done_here);
      std::fprintf(stderr, "\r\033[Kiter %lld/%lld  loss %.4f  lr %.3g  %.2f clips/s  ETA %s", (long long)iteration,
                   (long long)config.iters, value, lr, clips_per_s, hms(eta).c_str());
      std::fflush(stderr);
    }
    if (iteration % config.checkpoint_every == 0 || last || stopping) save(iteration);
    if ((config.val_every > 0 && iteration % config.val_every == 0) || last) run_validation(iteration);
    if (iteration % config.checkpoint_every == 0 || last || stopping ||
        (config.val_every > 0 && iteration % config.val_every == 0))
      draw_plot(plot_path, history, config.iters);
    if (stopping && !last) {
      if (bar) std::fputc('\n', stderr);
      if (chatty || g_interrupted)
        std::fprintf(stderr, "%s at iteration %lld; checkpoint %s (continue with --resume)\n",
                     g_interrupted ? "interrupted" : "stopped", (long long)iteration, ckpt_path.c_str());
      return g_interrupted ? kInterrupted : 0;
    }
  }
  if (bar) std::fputc('\n', stderr);
  save_model_file(model_path, config.model, weights);
  if (chatty) std::fprintf(stderr, "model: %s\n", model_path.c_str());
  return 0;
}

}  // namespace tv3s::train
