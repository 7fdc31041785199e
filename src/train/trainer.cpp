#include "src/train/trainer.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "src/data/class_tables.h"
#include "src/data/train_clips.h"
#include "src/eval/evaluate.h"
#include "src/io/atomic_file.h"
#include "src/io/json_text.h"
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
  for (int64_t number = 1; std::getline(in, line); ++number) {
    json j;
    try {
      j = io::parse_json(line, path);
    } catch (const Error&) {
      break;  // a torn last line from a killed run
    }
    // Lines are the trainer's own; one of another shape is a damaged log, named as such.
    const std::string where = str(path, ": line ", number);
    io::json_object(j, where);
    if (!j.contains("iter")) continue;
    const int64_t iteration = io::json_int(j["iter"], where + ": 'iter'", 0, std::numeric_limits<int64_t>::max());
    if (iteration > last) continue;
    kept += line + "\n";
    // A number, or NaN where it is absent or null (mVC8 of a single-frame validation).
    const auto number_or_nan = [&](const json& object, const char* key) {
      if (!object.contains(key) || object[key].is_null()) return double(NAN);
      return io::json_number(object[key], str(where, ": '", key, "'"));
    };
    if (j.contains("val")) {
      const json& val = j["val"];
      io::json_object(val, where + ": 'val'");
      history.val_iter.push_back(double(iteration));
      history.miou.push_back(number_or_nan(val, "mIoU"));
      history.mvc8.push_back(number_or_nan(val, "mVC8"));
    } else if (j.contains("loss")) {
      history.iter.push_back(double(iteration));
      history.loss.push_back(io::json_number(j["loss"], where + ": 'loss'"));
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

// --- One run: its state, and the steps run_training loops over ---

// What a run holds between iterations: set up by open (and resume), used by step,
// run_validation and checkpoint.
struct Training {
  TrainConfig config;  // the run's, with the dataset's classes filled in
  Device device = Device::CPU;
  bool chatty = true;  // progress and summaries on stderr
  std::string ckpt_path, log_path, plot_path, model_path;

  data::TrainClips clips;
  bool validating = false;
  data::EvalSet val_set;

  Weights weights;  // the optimizer's leaves
  std::optional<AdamW> optimizer;
  PolySchedule schedule;
  DType compute = DType::f32;  // the forward's matrix products (mixed precision: bf16/f16)
  std::optional<LossScaler> scaler;
  Rng rng;             // the dropout / drop-path masks
  int64_t start = 0;   // the first iteration this run trains
  History history;
  std::ofstream log;

  void log_line(const json& j) {
    log << j.dump() << "\n";
    log.flush();
  }
};

// resume: the checkpoint's weights, iteration and RNG, and the log cut back to its
// iteration. Returns the checkpoint (open restores the optimizer and loss scale from it).
TrainCheckpoint resume(Training& t) {
  TV3S_CHECK(fs::exists(t.ckpt_path), t.ckpt_path, ": no checkpoint to resume from");
  TrainCheckpoint resumed = load_checkpoint(t.ckpt_path);
  TV3S_CHECK(resumed.train_config_json == t.config.identity_json(), t.ckpt_path,
             ": was written by a run with another configuration (model, data, augmentation, "
             "optimizer, schedule, batch or seed differ); resume with the same config");
  std::map<std::string, Tensor> tensors;
  for (auto& [name, tensor] : resumed.model) tensors.emplace(name, tensor.to(t.device));
  t.weights = Weights(std::move(tensors));
  t.start = resumed.iteration;
  t.rng.load(resumed.rng);
  rewind_log(t.log_path, t.start, t.history);
  if (t.chatty) std::fprintf(stderr, "resuming %s at iteration %lld\n", t.ckpt_path.c_str(), (long long)t.start);
  return resumed;
}

// A fresh start: initial weights, then the pretrained backbone and --init's model over
// them; an empty log.
void start_fresh(Training& t) {
  const TrainConfig& config = t.config;
  t.weights = initial_weights(config.model, config.seed, t.device);
  if (!config.pretrained.empty()) {
    load_backbone(t.weights, config.model, config.pretrained);
    if (t.chatty) std::fprintf(stderr, "backbone from %s\n", config.pretrained.c_str());
  }
  if (!config.init.empty()) {
    const std::string summary = init_from_model(t.weights, config.model, config.init);
    if (t.chatty) std::fprintf(stderr, "%s\n", summary.c_str());
  }
  io::write_file_atomic(t.log_path, std::string());
}

// open: the data (first: a bad root fails before any folder is made), the run folder,
// the weights (fresh, or resumed from the checkpoint), the optimizer, schedule and loss
// scaler, and the log.
void open(Training& t, const TrainRun& run) {
  TrainConfig& config = t.config;
  config = run.config;
  t.device = parse_device(config.device);
  TV3S_CHECK(!config.data_root.empty(), "no training data: give --data ROOT or \"data.root\" in the config");
  const data::DatasetKind kind = data::parse_dataset_kind(config.dataset);
  t.chatty = !run.quiet;

  t.clips = data::TrainClips::open(config.data_root, kind, config.split);
  const data::ClassTable classes = dataset_classes(config.data_root, kind);
  if (config.model.num_classes == 0) config.model.num_classes = classes.size();
  TV3S_CHECK(config.model.num_classes == classes.size(), config.data_root, ": the dataset has ",
             classes.size(), " classes, the config asks for ", config.model.num_classes);
  config.model.class_names = classes.names;
  config.model.palette = classes.palette;
  config.model.source = "tv3s train";
  t.validating = !config.val_split.empty();
  if (t.validating) {
    data::EvalOptions listing;
    listing.split = config.val_split;
    listing.limit = config.val_videos;
    // A TV3S sees each annotated Cityscapes frame after its official neighbours, as in
    // `tv3s eval` (the same offsets validate() asks the loop for).
    if (kind == data::DatasetKind::cityscapes && config.model.kind == ModelKind::tv3s)
      listing.context_offsets = eval::cityscapes_context(parse_segment_mode(config.val_mode));
    t.val_set = data::list_eval_set(config.data_root, kind, listing);
  }

  io::make_output_folder(run.out_dir);
  t.ckpt_path = (fs::path(run.out_dir) / "checkpoint.safetensors").string();
  t.log_path = (fs::path(run.out_dir) / "log.jsonl").string();
  t.plot_path = (fs::path(run.out_dir) / "plot.png").string();
  t.model_path = (fs::path(run.out_dir) / "model.safetensors").string();

  t.rng = Rng(config.seed ^ 0x5eed5eed5eedULL);
  std::optional<TrainCheckpoint> resumed;
  if (run.resume)
    resumed = resume(t);
  else
    start_fresh(t);
  TV3S_CHECK(t.start < config.iters, t.ckpt_path, ": already at iteration ", t.start, " of ", config.iters,
             ": the run is complete (its model is model.safetensors)");
  io::write_file_atomic((fs::path(run.out_dir) / "config.json").string(), config.to_json());

  // Leaves on the table's own handles: the optimizer and every module bound later share them.
  const std::vector<std::string> trainable = trainable_parameters(t.weights);
  t.weights.requires_grad(trainable);
  std::vector<std::pair<std::string, Tensor>> params;
  for (const std::string& name : trainable) params.emplace_back(name, t.weights.get(name));
  t.optimizer.emplace(params, config.optimizer);
  if (resumed) t.optimizer->load_state({resumed->adam_m, resumed->adam_v, resumed->adam_steps}, t.ckpt_path);
  t.schedule = config.schedule();
  // Mixed precision: the forward pass's matrix products in bf16/f16 (tv3s/autocast.h);
  // weights, optimizer and everything else stay f32. f16 needs dynamic loss scaling.
  t.compute = parse_precision(config.precision);  // fp16 also gets dynamic loss scaling
  t.scaler.emplace(t.compute == DType::f16, config.loss_scale);
  if (resumed) t.scaler->restore(resumed->loss_scale, resumed->loss_scale_good_steps);
  if (t.chatty && t.compute != DType::f32 && t.device == Device::CPU)
    std::fprintf(stderr, "precision %s: emulated on the CPU (rounded operands, f32 arithmetic) — for checking "
                 "accuracy; it is slower than fp32\n", config.precision.c_str());

  t.log.open(t.log_path, std::ios::app);
  TV3S_CHECK(t.log, t.log_path, ": cannot open the log for writing");
}

// What one step did, for the log.
struct StepResult {
  std::string diverged;  // set: the loss or a gradient is NaN/Inf, and nothing was updated
  double loss = 0, loss_aux = 0, loss_main = 0;
  double lr_factor = 0;   // the schedule's factor of this iteration
  double loss_scale = 1;  // what the loss was multiplied by (fp16)
  bool stepped = true;    // false: the gradients overflowed at this loss scale, step skipped
};

// step: one optimisation step on iteration `it`'s batch (0-based).
StepResult step(Training& t, int64_t it) {
  const TrainConfig& config = t.config;
  const data::ClipBatch batch = t.clips.batch(config.batch_size, config.seed, it, config.augment);
  const Tensor images = batch.images.to(t.device), labels = batch.labels.to(t.device);
  Loss loss;
  {
    const AutocastScope autocast(t.compute);
    const TrainOutputs out = forward_train(config.model, t.weights, images, config.frames, config.stochastic, t.rng);
    loss = compute_loss(out, labels, config.frames, config.loss);
  }
  StepResult r;
  r.loss = loss.total.detach().cpu().item();
  r.loss_aux = loss.aux, r.loss_main = loss.main;
  // Divergence stops before the update, so the last checkpoint stays good.
  if (!std::isfinite(r.loss)) {
    r.diverged = std::isnan(r.loss) ? "the loss is NaN" : "the loss is infinite";
    return r;
  }
  LossScaler& scaler = *t.scaler;
  autograd::backward(scaler.enabled() ? loss.total * scaler.scale() : loss.total);
  // A finite loss can still have non-finite gradients: with loss scaling that is an
  // overflow (skip the step, the scale halves); otherwise divergence, stopped before the
  // update like a non-finite loss.
  r.loss_scale = scaler.scale();
  const bool finite = gradients_finite(*t.optimizer);
  r.stepped = scaler.update(finite);
  if (!finite && !scaler.enabled()) {
    r.diverged = "a gradient holds NaN/Inf (the loss is finite)";
    return r;
  }
  r.lr_factor = t.schedule.factor(it);
  if (r.stepped) t.optimizer->step(r.lr_factor, 1.0 / r.loss_scale);
  t.optimizer->zero_grad();
  return r;
}

// run_validation: the current weights scored on the validation split (validate.h), logged
// and added to the plot's history.
void run_validation(Training& t, int64_t iteration) {
  if (!t.validating) return;
  const ValResult v = validate(t.config.model, t.weights, t.val_set, t.config.val_mode);
  json val = {{"mIoU", v.miou}, {"frames", v.frames}, {"videos", v.videos}, {"seconds", v.seconds}};
  val["mVC8"] = std::isnan(v.mvc8) ? json() : json(v.mvc8);
  val["mVC16"] = std::isnan(v.mvc16) ? json() : json(v.mvc16);
  t.log_line({{"iter", iteration}, {"val", val}});
  t.history.val_iter.push_back(double(iteration));
  t.history.miou.push_back(v.miou);
  t.history.mvc8.push_back(v.mvc8);
  if (t.chatty)
    std::fprintf(stderr, "\r\033[Kiteration %lld: val mIoU %.2f %%  mVC8 %.2f %%  mVC16 %.2f %%  (%lld frames, %.1f s)\n",
                 (long long)iteration, 100 * v.miou, 100 * v.mvc8, 100 * v.mvc16, (long long)v.frames,
                 v.seconds);
}

// checkpoint: everything a resume needs after `iteration` (checkpoint.h).
void checkpoint(const Training& t, int64_t iteration) {
  TrainCheckpoint c;
  c.iteration = iteration;
  for (const auto& [name, tensor] : t.weights.all()) c.model.emplace(name, tensor.detach().cpu());
  AdamWState state = t.optimizer->save_state();
  c.adam_m = std::move(state.m), c.adam_v = std::move(state.v), c.adam_steps = std::move(state.steps);
  t.rng.save(c.rng);
  c.loss_scale = t.scaler->scale(), c.loss_scale_good_steps = t.scaler->good_steps();
  c.model_config_json = json(t.config.model.to_metadata()).dump();
  c.train_config_json = t.config.identity_json();
  save_checkpoint(t.ckpt_path, c);
}

// The console: a progress bar on a terminal, throughput for the log.
struct Progress {
  bool bar = false;
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_draw = t0 - std::chrono::seconds(1);
  int64_t done_here = 0;  // iterations trained by this process
};

// The log line of a step (and the plot's history), then the progress bar.
void log_step(Training& t, Progress& progress, int64_t iteration, const StepResult& s) {
  const TrainConfig& config = t.config;
  ++progress.done_here;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - progress.t0).count();
  const double clips_per_s = double(progress.done_here * config.batch_size) / seconds;
  const double lr = config.optimizer.lr * s.lr_factor;
  json line = {{"iter", iteration}, {"loss", s.loss}, {"loss_aux", s.loss_aux}, {"loss_main", s.loss_main},
               {"lr", lr}, {"lr_head", 10 * lr}, {"clips_per_s", clips_per_s}, {"seconds", seconds}};
  if (t.scaler->enabled()) line["loss_scale"] = s.loss_scale;
  if (!s.stepped) line["skipped"] = true;  // gradients overflowed at this loss scale
  t.log_line(line);
  t.history.iter.push_back(double(iteration));
  t.history.loss.push_back(s.loss);

  const bool last = iteration == config.iters;
  if (progress.bar &&
      (std::chrono::steady_clock::now() - progress.last_draw > std::chrono::milliseconds(200) || last)) {
    progress.last_draw = std::chrono::steady_clock::now();
    const double eta = double(config.iters - iteration) * seconds / double(progress.done_here);
    std::fprintf(stderr, "\r\033[Kiter %lld/%lld  loss %.4f  lr %.3g  %.2f clips/s  ETA %s", (long long)iteration,
                 (long long)config.iters, s.loss, lr, clips_per_s, hms(eta).c_str());
    std::fflush(stderr);
  }
}

int diverged(Training& t, const Progress& progress, int64_t iteration, const std::string& what) {
  if (progress.bar) std::fputc('\n', stderr);
  std::fprintf(stderr,
               "tv3s train: %s at iteration %lld: training diverged; stopped before the update. The "
               "last checkpoint (%s) is intact; try a lower learning rate\n",
               what.c_str(), (long long)iteration, fs::exists(t.ckpt_path) ? t.ckpt_path.c_str() : "none written yet");
  t.log_line({{"iter", iteration}, {"diverged", true}});
  return kDiverged;
}

}  // namespace

int run_training(const TrainRun& run) {
  Training t;
  open(t, run);
  const TrainConfig& config = t.config;
  SigintScope sigint;
  Progress progress;
  progress.bar = t.chatty && isatty(STDERR_FILENO);
  const int64_t stop_at = run.stop_after > 0 ? std::min(run.stop_after, config.iters) : config.iters;
  for (int64_t it = t.start; it < stop_at; ++it) {
    const int64_t iteration = it + 1;
    const StepResult s = step(t, it);
    if (!s.diverged.empty()) return diverged(t, progress, iteration, s.diverged);
    log_step(t, progress, iteration, s);

    const bool last = iteration == config.iters;
    const bool stopping = g_interrupted || iteration == stop_at;
    const bool checkpointing = iteration % config.checkpoint_every == 0 || last || stopping;
    const bool validation_due = config.val_every > 0 && iteration % config.val_every == 0;
    if (checkpointing) checkpoint(t, iteration);
    if (validation_due || last) run_validation(t, iteration);
    if (checkpointing || validation_due) draw_plot(t.plot_path, t.history, config.iters);
    if (stopping && !last) {
      if (progress.bar) std::fputc('\n', stderr);
      if (t.chatty || g_interrupted)
        std::fprintf(stderr, "%s at iteration %lld; checkpoint %s (continue with --resume)\n",
                     g_interrupted ? "interrupted" : "stopped", (long long)iteration, t.ckpt_path.c_str());
      return g_interrupted ? kInterrupted : 0;
    }
  }
  if (progress.bar) std::fputc('\n', stderr);
  save_model_file(t.model_path, config.model, t.weights);
  if (t.chatty) std::fprintf(stderr, "model: %s\n", t.model_path.c_str());
  return 0;
}

}  // namespace tv3s::train
