#include "src/io/ffmpeg_common.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

extern "C" {
#include <libavutil/opt.h>
}

namespace tv3s::io::ffmpeg {
namespace {

std::mutex log_mutex;
std::string error_line;  // any thread's, guarded by log_mutex
thread_local std::string thread_error_line;
thread_local int64_t thread_errors = 0;
int print_level = AV_LOG_QUIET;

int level_named(const char* name) {
  if (!name) return AV_LOG_QUIET;
  const std::string s = name;
  if (s == "error") return AV_LOG_ERROR;
  if (s == "warning") return AV_LOG_WARNING;
  if (s == "info") return AV_LOG_INFO;
  if (s == "verbose") return AV_LOG_VERBOSE;
  if (s == "debug") return AV_LOG_DEBUG;
  return AV_LOG_QUIET;
}

void log_callback(void* context, int level, const char* format, va_list args) {
  if (level > AV_LOG_ERROR && level > print_level) return;
  char text[512];
  std::vsnprintf(text, sizeof text, format, args);
  std::string line = text;
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r' || line.back() == ' '))
    line.pop_back();
  if (line.empty()) return;
  // The component that speaks ("h264", "mov,mp4,m4a,3gp,3g2,mj2"), as FFmpeg's own
  // prefix "[h264 @ 0x55d...]" names it, without the address.
  const AVClass* cls = context ? *static_cast<AVClass**>(context) : nullptr;
  const char* who = cls && cls->item_name ? cls->item_name(context) : nullptr;
  if (who && *who && std::strcmp(who, "NULL") != 0) line = std::string(who) + ": " + line;
  // The first error since the last clear: the cause; what follows is often its echo
  // ("missing picture in access unit" after "Invalid NAL unit size").
  if (level <= AV_LOG_ERROR && thread_error_line.empty()) thread_error_line = line;
  if (level <= AV_LOG_ERROR) ++thread_errors;
  std::lock_guard<std::mutex> lock(log_mutex);
  if (level <= AV_LOG_ERROR && error_line.empty()) error_line = line;
  if (level <= print_level) std::fprintf(stderr, "ffmpeg: %s\n", line.c_str());
}

}  // namespace

void quiet_log() {
  static std::once_flag once;
  std::call_once(once, [] {
    print_level = level_named(std::getenv("TV3S_FFMPEG_LOG"));
    av_log_set_callback(log_callback);
  });
}

std::string logged_error() {
  if (!thread_error_line.empty()) return thread_error_line;
  std::lock_guard<std::mutex> lock(log_mutex);
  return error_line;
}

void clear_logged_error() {
  thread_error_line.clear();
  std::lock_guard<std::mutex> lock(log_mutex);
  error_line.clear();
}

int64_t errors_on_this_thread() { return thread_errors; }

std::string error_text(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(code, text, sizeof text);
  return text;
}

std::string reason(int code) {
  const std::string logged = logged_error();
  return " (" + (logged.empty() ? error_text(code) : logged) + ")";
}

YuvMatrix matrix_of(AVColorSpace space) {
  switch (space) {
    case AVCOL_SPC_BT709: return YuvMatrix::bt709;
    case AVCOL_SPC_BT470BG:
    case AVCOL_SPC_SMPTE170M: return YuvMatrix::bt601;
    case AVCOL_SPC_BT2020_NCL:
    case AVCOL_SPC_BT2020_CL: return YuvMatrix::bt2020;
    default: return YuvMatrix::automatic;
  }
}

AVColorSpace color_space_of(YuvMatrix matrix) {
  switch (matrix) {
    case YuvMatrix::bt709: return AVCOL_SPC_BT709;
    case YuvMatrix::bt2020: return AVCOL_SPC_BT2020_NCL;
    default: return AVCOL_SPC_SMPTE170M;
  }
}

AVColorPrimaries primaries_of(YuvMatrix matrix) {
  switch (matrix) {
    case YuvMatrix::bt709: return AVCOL_PRI_BT709;
    case YuvMatrix::bt2020: return AVCOL_PRI_BT2020;
    default: return AVCOL_PRI_SMPTE170M;
  }
}

AVColorTransferCharacteristic transfer_of(YuvMatrix matrix) {
  switch (matrix) {
    case YuvMatrix::bt709: return AVCOL_TRC_BT709;
    case YuvMatrix::bt2020: return AVCOL_TRC_BT2020_10;
    default: return AVCOL_TRC_SMPTE170M;
  }
}

int sws_colorspace_of(YuvMatrix matrix) {
  switch (matrix) {
    case YuvMatrix::bt709: return SWS_CS_ITU709;
    case YuvMatrix::bt2020: return SWS_CS_BT2020;
    default: return SWS_CS_ITU601;
  }
}

SwsContext* make_scaler(int width, int height, AVPixelFormat source, bool source_full_range,
                        AVPixelFormat target, bool target_full_range) {
  SwsContext* c = sws_alloc_context();
  if (!c) return nullptr;
  av_opt_set_int(c, "srcw", width, 0);
  av_opt_set_int(c, "srch", height, 0);
  av_opt_set_int(c, "src_format", source, 0);
  av_opt_set_int(c, "dstw", width, 0);
  av_opt_set_int(c, "dsth", height, 0);
  av_opt_set_int(c, "dst_format", target, 0);
  av_opt_set_int(c, "sws_flags", SWS_BICUBIC, 0);
  av_opt_set_int(c, "src_range", source_full_range, 0);
  av_opt_set_int(c, "dst_range", target_full_range, 0);
  if (sws_init_context(c, nullptr, nullptr) < 0) {
    sws_freeContext(c);
    return nullptr;
  }
  return c;
}

AVFrame* alloc_frame(AVPixelFormat format, int width, int height) {
  AVFrame* f = av_frame_alloc();
  if (!f) return nullptr;
  f->format = format, f->width = width, f->height = height;
  if (av_frame_get_buffer(f, 64) < 0) av_frame_free(&f);
  return f;
}

AVPixelFormat plain_format(AVPixelFormat format, bool* full_range) {
  switch (format) {
    case AV_PIX_FMT_YUVJ420P: *full_range = true; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: *full_range = true; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: *full_range = true; return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: *full_range = true; return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: *full_range = true; return AV_PIX_FMT_YUV411P;
    default: return format;
  }
}

}  // namespace tv3s::io::ffmpeg
