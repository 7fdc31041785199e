// VideoReader over FFmpeg: demux (libavformat) → decode (libavcodec) → RGB (libswscale).
//
//   open:  avformat_open_input, avformat_find_stream_info, av_find_best_stream (video),
//          avcodec_open2 with max_pixels = the image limit
//   read:  receive a decoded frame; when the decoder wants input, read the next packet of
//          the video stream and send it; at the end of the input, drain the decoder
//   frame: check its size, pick its colour matrix and range, sws_scale to RGB24
//
// Every blocking call runs under a deadline (interrupt callback): kVideoOpenSeconds to
// open, kVideoStallSeconds for each packet after that.
#include "src/io/video_reader.h"

#include <chrono>
#include <cstring>

#include "src/io/ffmpeg_common.h"
#include "src/io/limits.h"
#include "tv3s/error.h"

#ifndef TV3S_WITH_AVDEVICE
#define TV3S_WITH_AVDEVICE 0
#endif
#if TV3S_WITH_AVDEVICE
extern "C" {
#include <libavdevice/avdevice.h>
}
#endif

namespace tv3s::io {

bool ffmpeg_available() { return true; }

std::string ffmpeg_summary() {
  auto version = [](unsigned v) {
    return std::to_string(v >> 16) + "." + std::to_string((v >> 8) & 255) + "." + std::to_string(v & 255);
  };
  const AVCodec* x264 = avcodec_find_encoder_by_name("libx264");
  return "libavformat " + version(avformat_version()) + ", libavcodec " + version(avcodec_version()) +
         ", cameras " + (TV3S_WITH_AVDEVICE ? "yes" : "no (no libavdevice)") + ", H.264 encoder " +
         (x264 ? "libx264" : "none (MPEG-4 part 2 instead)");
}

namespace {
using Clock = std::chrono::steady_clock;

Clock::time_point after(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

}  // namespace

struct VideoReader::Decoder {
  AVFormatContext* format = nullptr;
  AVCodecContext* codec = nullptr;
  SwsContext* sws = nullptr;
  AVPacket* packet = nullptr;
  AVFrame* frame = nullptr;
  int stream = -1;
  VideoInfo info;
  YuvMatrix matrix_option = YuvMatrix::automatic;
  YuvRange range_option = YuvRange::automatic;
  // The deadline of the blocking call in progress (interrupt callback).
  Clock::time_point deadline;
  bool timed_out = false;
  bool draining = false;  // the input has ended: the decoder gives what it holds
  int64_t last_pts = 0, frame_duration = 1;
  // What sws was last set up for.
  int sws_colorspace = -1, sws_full_range = -1;

  ~Decoder() {
    sws_freeContext(sws);
    av_frame_free(&frame);
    av_packet_free(&packet);
    avcodec_free_context(&codec);
    avformat_close_input(&format);
  }

  static int interrupted(void* opaque) {
    Decoder* d = static_cast<Decoder*>(opaque);
    if (Clock::now() < d->deadline) return 0;
    d->timed_out = true;
    return 1;
  }
};

namespace {

// The matrix and range of one frame by the rules of video_reader.h; `*_tagged`: the
// stream said so. Returns the SWS_CS_* constant to convert with.
int frame_colours(const AVFrame* f, YuvMatrix matrix_option, YuvRange range_option, VideoInfo& info,
                  bool* full_range) {
  bool format_says_full = false;
  ffmpeg::plain_format(AVPixelFormat(f->format), &format_says_full);
  info.range_tagged = format_says_full || f->color_range != AVCOL_RANGE_UNSPECIFIED;
  if (range_option != YuvRange::automatic) info.range = range_option;
  else if (info.range_tagged)
    info.range = format_says_full || f->color_range == AVCOL_RANGE_JPEG ? YuvRange::full : YuvRange::limited;
  else info.range = YuvRange::limited;
  *full_range = info.range == YuvRange::full;

  const AVColorSpace space = AVColorSpace(f->colorspace);
  info.matrix_tagged = space != AVCOL_SPC_UNSPECIFIED && space != AVCOL_SPC_RESERVED &&
                       space != AVCOL_SPC_RGB && space < AVCOL_SPC_NB;
  if (matrix_option != YuvMatrix::automatic) {
    info.matrix = matrix_option;
    return ffmpeg::sws_colorspace_of(matrix_option);
  }
  if (info.matrix_tagged) {
    // A tag tv3s has no name for (FCC, SMPTE 240M, YCgCo, ...) still converts with
    // FFmpeg's own coefficients for it (sws_getCoefficients takes AVColorSpace values).
    info.matrix = ffmpeg::matrix_of(space);
    return int(space);
  }
  info.matrix = automatic_yuv_matrix(f->width, f->height);
  return ffmpeg::sws_colorspace_of(info.matrix);
}

}  // namespace

VideoReader::VideoReader(const std::string& source, YuvMatrix matrix, YuvRange range)
    : name_(source), decoder_(std::make_unique<Decoder>()) {
  ffmpeg::quiet_log();
  ffmpeg::clear_last_error();
  Decoder& d = *decoder_;
  d.matrix_option = matrix, d.range_option = range;

  const AVInputFormat* input_format = nullptr;
  if (source.rfind("/dev/video", 0) == 0) {
#if TV3S_WITH_AVDEVICE
    avdevice_register_all();
    input_format = av_find_input_format("v4l2");
#endif
    TV3S_CHECK(input_format != nullptr, source, ": cameras need FFmpeg's libavdevice with V4L2 "
               "(apt-get install libavdevice-dev, then rebuild tv3s)");
  }
  d.format = avformat_alloc_context();
  TV3S_CHECK(d.format != nullptr, source, ": out of memory");
  d.format->interrupt_callback = {&Decoder::interrupted, &d};
  d.deadline = after(kVideoOpenSeconds);
  int err = avformat_open_input(&d.format, source.c_str(), input_format, nullptr);
  TV3S_CHECK(!d.timed_out, source, ": no answer within ", kVideoOpenSeconds, " s");
  TV3S_CHECK(err != AVERROR(ENOENT), source, ": no such file or folder");
  TV3S_CHECK(err >= 0, source, ": not a video FFmpeg can open", ffmpeg::reason(err));
  err = avformat_find_stream_info(d.format, nullptr);
  TV3S_CHECK(!d.timed_out, source, ": no video within ", kVideoOpenSeconds, " s");
  TV3S_CHECK(err >= 0, source, ": cannot read the streams of the file", ffmpeg::reason(err));

  const AVCodec* decoder = nullptr;
  d.stream = av_find_best_stream(d.format, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
  TV3S_CHECK(d.stream != AVERROR_STREAM_NOT_FOUND, source, ": holds no video stream");
  const AVStream* stream = d.format->streams[d.stream >= 0 ? d.stream : 0];
  TV3S_CHECK(d.stream >= 0 && decoder != nullptr, source, ": this FFmpeg has no decoder for its ",
             avcodec_get_name(stream->codecpar->codec_id), " video");
  const AVCodecParameters* par = stream->codecpar;
  TV3S_CHECK(par->width >= 0 && par->height >= 0 && par->width <= kMaxImageSide &&
                 par->height <= kMaxImageSide && int64_t(par->width) * par->height <= kMaxImagePixels,
             source, ": the video declares ", par->width, "×", par->height, " frames, beyond the limit (",
             kMaxImageSide, " a side, ", kMaxImagePixels, " pixels)");

  d.codec = avcodec_alloc_context3(decoder);
  TV3S_CHECK(d.codec != nullptr, source, ": out of memory");
  err = avcodec_parameters_to_context(d.codec, par);
  TV3S_CHECK(err >= 0, source, ": bad codec parameters", ffmpeg::reason(err));
  d.codec->max_pixels = kMaxImagePixels;  // the decoder refuses bigger frames itself
  d.codec->pkt_timebase = stream->time_base;
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  d.codec->thread_count = 1;  // one input, one thread: findings reproduce
#else
  d.codec->thread_count = 0;  // FFmpeg's choice (one per core)
#endif
  err = avcodec_open2(d.codec, decoder, nullptr);
  TV3S_CHECK(err >= 0, source, ": cannot open the ", decoder->name, " decoder", ffmpeg::reason(err));
  d.packet = av_packet_alloc();
  d.frame = av_frame_alloc();
  TV3S_CHECK(d.packet && d.frame, source, ": out of memory");

  VideoInfo& info = d.info;
  info.width = par->width, info.height = par->height;
  info.container = d.format->iformat->name;
  info.codec = avcodec_get_name(par->codec_id);
  const char* pixel_format = av_get_pix_fmt_name(AVPixelFormat(par->format));
  info.pixel_format = pixel_format ? pixel_format : "unknown";
  info.time_base = {stream->time_base.num, stream->time_base.den};
  AVRational rate = stream->avg_frame_rate;
  if (rate.num <= 0 || rate.den <= 0) rate = stream->r_frame_rate;
  if (rate.num <= 0 || rate.den <= 0) rate = {25, 1};
  info.frame_rate = {rate.num, rate.den};
  info.declared_frames = stream->nb_frames > 0 ? stream->nb_frames : -1;
  info.live = is_video_url(source) && source.rfind("file:", 0) != 0;
  d.frame_duration = std::max<int64_t>(1, av_rescale_q(1, av_inv_q(rate), stream->time_base));
  d.last_pts = -d.frame_duration;
  info.range = range, info.matrix = matrix;
}

VideoReader::~VideoReader() = default;

const VideoInfo& VideoReader::info() const { return decoder_->info; }

bool VideoReader::read(Image& image, int64_t& pts) {
  Decoder& d = *decoder_;
  ffmpeg::clear_last_error();
  for (;;) {
    int err = avcodec_receive_frame(d.codec, d.frame);
    if (err == AVERROR_EOF) {
      // A file that ends early: its container said how many frames there are (MP4, AVI
      // do; Matroska and MPEG-TS do not, their truncation shows as a corrupt packet).
      TV3S_CHECK(d.info.live || d.info.declared_frames < 0 || frames_read_ >= d.info.declared_frames,
                 name_, ": truncated: the file ends after ", frames_read_, " of the ",
                 d.info.declared_frames, " frames its header declares");
      return false;
    }
    if (err == 0) break;
    TV3S_CHECK(err == AVERROR(EAGAIN), name_, ": cannot decode frame ", frames_read_, ffmpeg::reason(err));
    // The decoder wants input: the next packet of the video stream.
    d.deadline = after(kVideoStallSeconds);
    err = av_read_frame(d.format, d.packet);
    TV3S_CHECK(!d.timed_out, name_, ": no data for ", kVideoStallSeconds, " s after frame ", frames_read_);
    if (err == AVERROR_EOF) {
      TV3S_CHECK(!d.draining, name_, ": the decoder did not finish");
      d.draining = true;
      avcodec_send_packet(d.codec, nullptr);
      continue;
    }
    TV3S_CHECK(err >= 0, name_, ": cannot read the video after frame ", frames_read_, ffmpeg::reason(err));
    if (d.packet->stream_index != d.stream) {
      av_packet_unref(d.packet);
      continue;
    }
    // A packet cut short: the file ends (or is damaged) inside it.
    const bool cut = d.packet->flags & AV_PKT_FLAG_CORRUPT;
    err = avcodec_send_packet(d.codec, d.packet);
    av_packet_unref(d.packet);
    TV3S_CHECK(d.info.live || !cut, name_, ": truncated or corrupt: the data of frame ", frames_read_,
               " is cut short");
    TV3S_CHECK(err >= 0 || d.info.live, name_, ": corrupt data at frame ", frames_read_, ffmpeg::reason(err));
  }

  AVFrame* f = d.frame;
  // Decoders that conceal damage say so on the frame; a file with damage is an error (a
  // live stream loses packets as a matter of course: its frames are kept as decoded).
  const bool damaged = f->decode_error_flags != 0 || (f->flags & AV_FRAME_FLAG_CORRUPT);
  if (damaged && !d.info.live) {
    const std::string why = ffmpeg::last_error();
    av_frame_unref(f);
    TV3S_CHECK(false, name_, ": frame ", frames_read_, " is corrupt",
               why.empty() ? std::string(" (the decoder concealed damaged data)") : " (" + why + ")");
  }
  if (frames_read_ == 0 && d.info.width == 0) d.info.width = f->width, d.info.height = f->height;
  if (f->width != d.info.width || f->height != d.info.height) {
    const int w = f->width, h = f->height;
    av_frame_unref(f);
    TV3S_CHECK(false, name_, ": frame ", frames_read_, " is ", w, "×", h, ", the video's frames ",
               d.info.width, "×", d.info.height, " (a video must keep one size)");
  }
  TV3S_CHECK(f->width > 0 && f->height > 0 && f->width <= kMaxImageSide && f->height <= kMaxImageSide &&
                 int64_t(f->width) * f->height <= kMaxImagePixels,
             name_, ": frame ", frames_read_, " is ", f->width, "×", f->height, ", beyond the image limits");

  // To RGB as `ffmpeg -pix_fmt rgb24` converts: bicubic (the ffmpeg command's default
  // scaler flags; at equal sizes they only choose the chroma upsampling), the frame's
  // matrix and range.
  bool full_range = false;
  const int colorspace = frame_colours(f, d.matrix_option, d.range_option, d.info, &full_range);
  bool ignored = false;
  const AVPixelFormat format = ffmpeg::plain_format(AVPixelFormat(f->format), &ignored);
  SwsContext* sws = sws_getCachedContext(d.sws, f->width, f->height, format, f->width, f->height,
                                         AV_PIX_FMT_RGB24, SWS_BICUBIC, nullptr, nullptr, nullptr);
  TV3S_CHECK(sws != nullptr, name_, ": cannot convert ",
             av_get_pix_fmt_name(format) ? av_get_pix_fmt_name(format) : "this pixel format", " to RGB");
  if (sws != d.sws || colorspace != d.sws_colorspace || int(full_range) != d.sws_full_range) {
    d.sws = sws;
    sws_setColorspaceDetails(sws, sws_getCoefficients(colorspace), full_range,
                             sws_getCoefficients(SWS_CS_DEFAULT), 0, 0, 1 << 16, 1 << 16);
    d.sws_colorspace = colorspace, d.sws_full_range = full_range;
  }
  image.width = f->width, image.height = f->height;
  image.rgb.resize(size_t(f->width) * f->height * 3);
  uint8_t* planes[4] = {image.rgb.data(), nullptr, nullptr, nullptr};
  const int strides[4] = {3 * f->width, 0, 0, 0};
  sws_scale(sws, f->data, f->linesize, 0, f->height, planes, strides);

  pts = f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp : d.last_pts + d.frame_duration;
  d.last_pts = pts;
  av_frame_unref(f);
  ++frames_read_;
  return true;
}

}  // namespace tv3s::io
