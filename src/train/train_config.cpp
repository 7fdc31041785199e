#include "src/train/train_config.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <type_traits>

#include "src/io/json_text.h"
#include "tv3s/error.h"

namespace tv3s::train {

using nlohmann::json;

namespace {

// Reads keys of one JSON object, refusing any key it was not asked for.
class Reader {
 public:
  Reader(const json& object, std::string where, std::string what)
      : object_(object), where_(std::move(where)), what_(std::move(what)) {
    TV3S_CHECK(object.is_object(), what_, ": ", where_.empty() ? "the config" : "'" + where_ + "'",
               " must be a JSON object");
  }
  ~Reader() noexcept(false) {
    if (std::uncaught_exceptions() > 0) return;
    for (const auto& [key, value] : object_.items())
      TV3S_CHECK(used_.count(key), what_, ": unknown key '", path(key), "'");
  }

  template <class T>
  void get(const char* key, T& out) {
    used_.insert(key);
    if (object_.contains(key)) read(object_.at(key), str(what_, ": '", path(key), "'"), out);
  }
  template <class F>
  void object(const char* key, F&& read) {
    used_.insert(key);
    if (!object_.contains(key)) return;
    Reader inner(object_.at(key), path(key), what_);
    read(inner);
  }
  std::string path(const std::string& key) const { return where_.empty() ? key : where_ + "." + key; }
  const std::string& what() const { return what_; }

 private:
  // One value of the type the config field has; integers are range-checked for it.
  static void read(const json& v, const std::string& name, std::string& out) { out = io::json_string(v, name); }
  static void read(const json& v, const std::string& name, bool& out) { out = io::json_bool(v, name); }
  static void read(const json& v, const std::string& name, double& out) { out = io::json_number(v, name); }
  template <class T, class = std::enable_if_t<std::is_integral_v<T>>>
  static void read(const json& v, const std::string& name, T& out) {
    if (std::is_same_v<T, uint64_t> && v.is_number_unsigned()) {  // a seed may use all 64 bits
      out = T(v.get<uint64_t>());
      return;
    }
    using Limits = std::numeric_limits<T>;
    out = T(io::json_int(v, name, int64_t(Limits::min()), int64_t(std::min<uint64_t>(Limits::max(), INT64_MAX))));
  }
  template <class T, size_t N>
  static void read(const json& v, const std::string& name, std::array<T, N>& out) {
    io::json_list(v, name, N, N);
    for (size_t i = 0; i < N; ++i) read(v[i], str(name, "[", i, "]"), out[i]);
  }

  const json& object_;
  std::string where_, what_;
  std::set<std::string> used_;
};

void check_positive(int64_t v, const char* key, const std::string& what) {
  TV3S_CHECK(v > 0, what, ": '", key, "' must be positive, got ", v);
}

}  // namespace

PolySchedule TrainConfig::schedule() const {
  PolySchedule s;
  s.power = power, s.min_lr = min_lr, s.max_iters = iters;
  s.warmup_iters = warmup_iters, s.warmup_ratio = warmup_ratio;
  return s;
}

void apply_config_json(TrainConfig& c, const std::string& text, const std::string& what) {
  const json root = io::parse_json(text, what);  // syntax, 1e999, nesting: one-line errors
  {
    Reader r(root, "", what);
    r.object("model", [&](Reader& m) {
      std::string type = model_kind_name(c.model.kind);
      m.get("type", type);
      const std::optional<ModelKind> kind = find_model_kind(type);
      TV3S_CHECK(kind && *kind != ModelKind::backbone, what,
                 ": 'model.type' must be \"tv3s\" or \"segformer\", got \"", type, "\"");
      c.model.kind = *kind;
      std::string backbone = c.model.backbone;
      m.get("backbone", backbone);
      try {
        c.model.set_backbone(backbone);
      } catch (const Error& e) {
        throw Error(str(what, ": 'model.backbone': ", e.what()));
      }
      m.get("embed_dim", c.model.embed_dim);
      m.get("window", c.model.window);
      m.get("shift", c.model.shift);
      m.get("num_classes", c.model.num_classes);
      m.get("pretrained", c.pretrained);
      m.get("init", c.init);
    });
    r.object("data", [&](Reader& d) {
      d.get("root", c.data_root);
      d.get("dataset", c.dataset);
      d.get("split", c.split);
      d.get("val_split", c.val_split);
      d.get("val_videos", c.val_videos);
      d.get("frames", c.frames);
    });
    r.object("augment", [&](Reader& a) {
      data::AugmentConfig& g = c.augment;
      std::array<int, 2> crop{g.crop_h, g.crop_w}, scale{g.scale_w, g.scale_h};
      std::array<double, 2> ratio{g.ratio_min, g.ratio_max};
      a.get("enabled", g.enabled);
      a.get("crop", crop);
      a.get("scale", scale);
      a.get("ratio_range", ratio);
      a.get("cat_max_ratio", g.cat_max_ratio);
      a.get("flip_prob", g.flip_prob);
      a.get("photometric", g.photometric);
      g.crop_h = crop[0], g.crop_w = crop[1], g.scale_w = scale[0], g.scale_h = scale[1];
      g.ratio_min = ratio[0], g.ratio_max = ratio[1];
    });
    std::string loss = loss_kind_name(c.loss);
    r.get("loss", loss);
    c.loss = parse_loss_kind(loss);
    r.object("optimizer", [&](Reader& o) {
      std::array<double, 2> betas{c.optimizer.beta1, c.optimizer.beta2};
      o.get("lr", c.optimizer.lr);
      o.get("weight_decay", c.optimizer.weight_decay);
      o.get("betas", betas);
      o.get("eps", c.optimizer.eps);
      c.optimizer.beta1 = betas[0], c.optimizer.beta2 = betas[1];
    });
    r.object("schedule", [&](Reader& s) {
      s.get("power", c.power);
      s.get("warmup_iters", c.warmup_iters);
      s.get("warmup_ratio", c.warmup_ratio);
      s.get("min_lr", c.min_lr);
    });
    r.get("iters", c.iters);
    r.get("batch_size", c.batch_size);
    r.get("seed", c.seed);
    r.get("dropout", c.stochastic.dropout);
    r.get("drop_path", c.stochastic.drop_path);
    r.get("decoder_drop_path", c.stochastic.decoder_drop_path);
    r.get("checkpoint_every", c.checkpoint_every);
    r.get("val_every", c.val_every);
    r.get("val_mode", c.val_mode);
    r.get("device", c.device);
    r.get("precision", c.precision);
    r.get("loss_scale", c.loss_scale);
  }
  // Values: checked here so a bad config fails before any data is read.
  check_positive(c.iters, "iters", what);
  check_positive(c.batch_size, "batch_size", what);
  check_positive(c.checkpoint_every, "checkpoint_every", what);
  TV3S_CHECK(c.frames == 4, what, ": 'data.frames' must be 4 (clips are frames t−9, t−6, t−3, t)");
  TV3S_CHECK(c.model.embed_dim > 0 && c.model.num_classes >= 0 && c.model.num_classes < 255, what,
             ": 'model.embed_dim' must be positive and 'model.num_classes' in [0, 254]");
  TV3S_CHECK(c.model.window > 0 && c.model.shift > 0 && c.model.shift < c.model.window, what,
             ": 'model.window'/'model.shift' need 0 < shift < window");
  TV3S_CHECK(c.model.kind == ModelKind::tv3s || c.loss == LossKind::per_frame, what,
             ": a \"segformer\" model trains with \"loss\": \"per_frame\"");
  TV3S_CHECK(c.dataset == "vspw" || c.dataset == "cityscapes", what,
             ": 'data.dataset' must be \"vspw\" or \"cityscapes\"");
  for (double p : {c.stochastic.dropout, c.stochastic.drop_path, c.stochastic.decoder_drop_path})
    TV3S_CHECK(p >= 0 && p < 1, what, ": dropout and drop-path rates must be in [0, 1), got ", p);
  TV3S_CHECK(c.augment.crop_h >= 32 && c.augment.crop_w >= 32, what, ": 'augment.crop' must be at least 32×32");
  TV3S_CHECK(c.augment.ratio_min > 0 && c.augment.ratio_min <= c.augment.ratio_max, what,
             ": 'augment.ratio_range' must be [lo, hi] with 0 < lo ≤ hi");
  TV3S_CHECK(c.optimizer.lr > 0 && c.optimizer.weight_decay >= 0, what,
             ": 'optimizer.lr' must be positive and 'weight_decay' non-negative");
  TV3S_CHECK(c.warmup_iters >= 0 && c.warmup_ratio > 0 && c.warmup_ratio <= 1 && c.power > 0, what,
             ": 'schedule' needs warmup_iters ≥ 0, 0 < warmup_ratio ≤ 1, power > 0");
  TV3S_CHECK(c.val_every >= 0 && c.val_videos >= 0, what, ": 'val_every' and 'val_videos' must be ≥ 0");
  TV3S_CHECK(c.val_mode == "clip" || c.val_mode == "stream", what,
             ": 'val_mode' must be \"clip\" or \"stream\"");
  TV3S_CHECK(c.device == "cpu" || c.device == "cuda", what, ": 'device' must be \"cpu\" or \"cuda\"");
  TV3S_CHECK(std::isfinite(c.loss_scale) && c.loss_scale >= 1, what, ": 'loss_scale' must be at least 1");
  TV3S_CHECK(c.precision == "fp32" || c.precision == "bf16" || c.precision == "fp16", what,
             ": 'precision' must be \"fp32\", \"bf16\" or \"fp16\", got \"", c.precision, "\"");
}


TrainConfig read_train_config(const std::string& path) {
  TrainConfig config;
  apply_config_json(config, io::read_json_file(path), path);
  return config;
}

namespace {
json identity(const TrainConfig& c) {
  const data::AugmentConfig& a = c.augment;
  return {
      {"model", {{"type", model_kind_name(c.model.kind)}, {"backbone", c.model.backbone}, {"embed_dim", c.model.embed_dim},
                 {"window", c.model.window}, {"shift", c.model.shift}, {"num_classes", c.model.num_classes},
                 {"pretrained", c.pretrained}, {"init", c.init}}},
      {"data", {{"root", c.data_root}, {"dataset", c.dataset}, {"split", c.split},
                {"val_split", c.val_split}, {"val_videos", c.val_videos}, {"frames", c.frames}}},
      {"augment", {{"enabled", a.enabled}, {"crop", {a.crop_h, a.crop_w}}, {"scale", {a.scale_w, a.scale_h}},
                   {"ratio_range", {a.ratio_min, a.ratio_max}}, {"cat_max_ratio", a.cat_max_ratio},
                   {"flip_prob", a.flip_prob}, {"photometric", a.photometric}}},
      {"loss", loss_kind_name(c.loss)},
      {"optimizer", {{"lr", c.optimizer.lr}, {"weight_decay", c.optimizer.weight_decay},
                     {"betas", {c.optimizer.beta1, c.optimizer.beta2}}, {"eps", c.optimizer.eps}}},
      {"schedule", {{"power", c.power}, {"warmup_iters", c.warmup_iters}, {"warmup_ratio", c.warmup_ratio},
                    {"min_lr", c.min_lr}}},
      {"iters", c.iters}, {"batch_size", c.batch_size}, {"seed", c.seed},
      {"dropout", c.stochastic.dropout}, {"drop_path", c.stochastic.drop_path},
      {"decoder_drop_path", c.stochastic.decoder_drop_path}, {"precision", c.precision},
      {"loss_scale", c.loss_scale}};
}
}  // namespace

std::string TrainConfig::identity_json() const { return identity(*this).dump(); }

std::string TrainConfig::to_json() const {
  json j = identity(*this);
  j["checkpoint_every"] = checkpoint_every;
  j["val_every"] = val_every;
  j["val_mode"] = val_mode;
  j["device"] = device;
  return j.dump(2) + "\n";
}

}  // namespace tv3s::train
