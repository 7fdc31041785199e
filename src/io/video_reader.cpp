// VideoReader over FFmpeg: demux (libavformat) → decode (libavcodec) → RGB (libswscale).
//
//   open:  avformat_open_input, avformat_find_stream_info, av_find_best_stream (video),
//          avcodec_open2 with max_pixels = the image limit
//   read:  receive a decoded frame; when the decoder wants input, read the next packet of
//          the video stream and send it; at the end of the input, drain the decoder
//   frame: check its size, pick its colour matrix and range, sws_scale to RGB24
//
// Every blocking call runs under a deadline (interrupt callback): VideoTimeouts'
// open_seconds to open, stall_seconds for each packet after that.
#include "src/io/video_reader.h"

#include <chrono>
#include <cstring>
#include <vector>

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
  AVFrame* rgb = nullptr;  // the scaler's target (padded rows)
  int stream = -1;
  VideoInfo info;
  YuvMatrix matrix_option = YuvMatrix::automatic;
  YuvRange range_option = YuvRange::automatic;
  // The deadline of the blocking call in progress (interrupt callback).
  Clock::time_point deadline;
  bool timed_out = false;
  double stall_seconds = kVideoStallSeconds;
  bool draining = false;  // the input has ended: the decoder gives what it holds
  // The first damage noticed in a file ("" if none): the input stops there, the decoder
  // gives back what it holds, then the error is reported.
  std::string damage;
  int64_t last_pts = 0, frame_duration = 1;
  // What sws was made for, and the matrix it was last given.
  AVPixelFormat sws_format = AV_PIX_FMT_NONE;
  int sws_width = 0, sws_height = 0, sws_full_range = -1, sws_colorspace = -1;

  ~Decoder() {
    sws_freeContext(sws);
    av_frame_free(&rgb);
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

void check_declared_size(const std::string& source, const AVCodecParameters* par) {
  TV3S_CHECK(par->width >= 0 && par->height >= 0 && par->width <= kMaxImageSide &&
                 par->height <= kMaxImageSide && int64_t(par->width) * par->height <= kMaxImagePixels,
             source, ": the video declares ", par->width, "×", par->height, " frames, beyond the limit (",
             kMaxImageSide, " a side, ", kMaxImagePixels, " pixels)");
}

}  // namespace

VideoReader::VideoReader(const std::string& source, YuvMatrix matrix, YuvRange range,
                         VideoTimeouts timeouts)
    : name_(source), decoder_(std::make_unique<Decoder>()) {
  ffmpeg::quiet_log();
  ffmpeg::clear_logged_error();
  Decoder& d = *decoder_;
  d.matrix_option = matrix, d.range_option = range;
  d.stall_seconds = timeouts.stall_seconds;

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
  d.deadline = after(timeouts.open_seconds);
  const int64_t errors_before_open = ffmpeg::errors_on_this_thread();
  // A file (strict: its damage is an error) reads itself and nothing else: a playlist
  // (HLS, concat) disguised as a video must not make FFmpeg open URLs or other files.
  const bool strict = !is_video_url(source);
  AVDictionary* open_options = nullptr;
  if (strict) av_dict_set(&open_options, "protocol_whitelist", "file", 0);
  int err = avformat_open_input(&d.format, source.c_str(), input_format, &open_options);
  av_dict_free(&open_options);
  TV3S_CHECK(!d.timed_out, source, ": no answer within ", timeouts.open_seconds, " s");
  TV3S_CHECK(err != AVERROR(ENOENT), source, ": no such file or folder");
  TV3S_CHECK(err >= 0, source, ": not a video FFmpeg can open", ffmpeg::reason(err));
  // Sizes the container declares, before anything decodes a frame of that size.
  for (unsigned i = 0; i < d.format->nb_streams; ++i)
    if (d.format->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO)
      check_declared_size(source, d.format->streams[i]->codecpar);
  // find_stream_info decodes a few frames to learn what the header does not say: its
  // decoders get the frame limit too.
  std::vector<AVDictionary*> probe_options(d.format->nb_streams, nullptr);
  for (AVDictionary*& o : probe_options) av_dict_set_int(&o, "max_pixels", kMaxImagePixels, 0);
  err = avformat_find_stream_info(d.format, probe_options.data());
  for (AVDictionary*& o : probe_options) av_dict_free(&o);
  TV3S_CHECK(!d.timed_out, source, ": no video within ", timeouts.open_seconds, " s");
  TV3S_CHECK(err >= 0, source, ": cannot read the streams of the file", ffmpeg::reason(err));
  // find_stream_info reads ahead (a short file whole) and keeps the packets: damage it met
  // there is reported after the frames that decode (it cannot say where it was).
  if (strict && ffmpeg::errors_on_this_thread() != errors_before_open) d.damage = ffmpeg::logged_error();

  const AVCodec* decoder = nullptr;
  d.stream = av_find_best_stream(d.format, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0);
  TV3S_CHECK(d.stream != AVERROR_STREAM_NOT_FOUND, source, ": holds no video stream");
  if (d.stream < 0 || decoder == nullptr) {  // a video stream, and no decoder for it
    AVCodecID id = AV_CODEC_ID_NONE;
    for (unsigned i = 0; i < d.format->nb_streams && id == AV_CODEC_ID_NONE; ++i)
      if (d.format->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) id = d.format->streams[i]->codecpar->codec_id;
    TV3S_CHECK(false, source, ": this FFmpeg has no decoder for its ", avcodec_get_name(id), " video");
  }
  const AVStream* stream = d.format->streams[d.stream];
  const AVCodecParameters* par = stream->codecpar;
  check_declared_size(source, par);  // again: the codec's header may have said more

  d.codec = avcodec_alloc_context3(decoder);
  TV3S_CHECK(d.codec != nullptr, source, ": out of memory");
  err = avcodec_parameters_to_context(d.codec, par);
  TV3S_CHECK(err >= 0, source, ": bad codec parameters", ffmpeg::reason(err));
  d.codec->max_pixels = kMaxImagePixels;  // the decoder refuses bigger frames itself
  // A file's damaged data is an error (decoders would conceal it and go on); a live
  // stream's is expected (lost packets) and concealed.
  if (strict) d.codec->err_recognition |= AV_EF_EXPLODE;
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
  info.live = !strict;
  d.frame_duration = std::max<int64_t>(1, av_rescale_q(1, av_inv_q(rate), stream->time_base));
  d.last_pts = -d.frame_duration;
  info.range = range, info.matrix = matrix;
}

VideoReader::~VideoReader() = default;

const VideoInfo& VideoReader::info() const { return decoder_->info; }

// The end of the input, early: stop reading, let the decoder give back the frames it
// holds, then report `why` (so what was decoded before the damage is not lost).
void VideoReader::stop_input(const std::string& why) {
  Decoder& d = *decoder_;
  if (d.damage.empty()) d.damage = why;
  if (!d.draining) avcodec_send_packet(d.codec, nullptr);
  d.draining = true;
}

bool VideoReader::read(Image& image, int64_t& pts) {
  Decoder& d = *decoder_;
  ffmpeg::clear_logged_error();
  const bool strict = !d.info.live;  // a file's damage is an error; a stream's is expected
  for (;;) {
    int err = avcodec_receive_frame(d.codec, d.frame);
    if (err == AVERROR_EOF) {
      TV3S_CHECK(d.damage.empty(), name_, ": truncated or corrupt after ", frames_read_, " frames (",
                 d.damage, ")");
      // A file that ends early: its container said how many frames there are (MP4, AVI
      // do; Matroska and MPEG-TS do not: there the demuxer notices, below).
      TV3S_CHECK(!strict || d.info.declared_frames < 0 || frames_read_ >= d.info.declared_frames,
                 name_, ": truncated: the file ends after ", frames_read_, " of the ",
                 d.info.declared_frames, " frames its header declares");
      return false;
    }
    if (err == 0) break;
    TV3S_CHECK(err == AVERROR(EAGAIN) || !strict, name_, ": corrupt data at frame ", frames_read_,
               ffmpeg::reason(err));
    if (d.draining) continue;  // (a live stream's bad frame while draining: skipped)
    // The decoder wants input: the next packet of the video stream. A demuxer that finds
    // damage or an early end logs an error and goes on (resyncs) or returns the end of
    // file: either is the end of a file's good data.
    const int64_t errors_before = ffmpeg::errors_on_this_thread();
    d.deadline = after(d.stall_seconds);
    err = av_read_frame(d.format, d.packet);
    TV3S_CHECK(!d.timed_out, name_, ": no data for ", d.stall_seconds, " s after frame ", frames_read_);
    const bool demuxer_complained = ffmpeg::errors_on_this_thread() != errors_before;
    if (err >= 0 && d.packet->stream_index != d.stream) {
      av_packet_unref(d.packet);
      continue;
    }
    // A packet cut short: the file ends (or is damaged) inside it.
    const bool cut = err >= 0 && (d.packet->flags & AV_PKT_FLAG_CORRUPT);
    if (strict && (cut || demuxer_complained)) {
      av_packet_unref(d.packet);
      stop_input(cut ? "a packet is cut short" : ffmpeg::logged_error());
      continue;
    }
    if (err == AVERROR_EOF) {
      stop_input(d.damage);
      continue;
    }
    TV3S_CHECK(err >= 0, name_, ": cannot read the video after frame ", frames_read_, ffmpeg::reason(err));
    err = avcodec_send_packet(d.codec, d.packet);
    av_packet_unref(d.packet);
    TV3S_CHECK(err >= 0 || !strict, name_, ": corrupt data at frame ", frames_read_, ffmpeg::reason(err));
  }

  AVFrame* f = d.frame;
  // Decoders that conceal damage say so on the frame; a file with damage is an error (a
  // live stream loses packets as a matter of course: its frames are kept as decoded).
  const bool damaged = f->decode_error_flags != 0 || (f->flags & AV_FRAME_FLAG_CORRUPT);
  if (damaged && strict) {
    const std::string why = ffmpeg::logged_error();
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
  if (!d.sws || format != d.sws_format || f->width != d.sws_width || f->height != d.sws_height ||
      int(full_range) != d.sws_full_range) {
    sws_freeContext(d.sws);
    d.sws = ffmpeg::make_scaler(f->width, f->height, format, full_range, AV_PIX_FMT_RGB24, false);
    TV3S_CHECK(d.sws != nullptr, name_, ": cannot convert ",
               av_get_pix_fmt_name(format) ? av_get_pix_fmt_name(format) : "this pixel format", " to RGB");
    d.sws_format = format, d.sws_width = f->width, d.sws_height = f->height;
    d.sws_full_range = full_range, d.sws_colorspace = -1;
  }
  if (colorspace != d.sws_colorspace) {
    sws_setColorspaceDetails(d.sws, sws_getCoefficients(colorspace), full_range,
                             sws_getCoefficients(SWS_CS_DEFAULT), 0, 0, 1 << 16, 1 << 16);
    d.sws_colorspace = colorspace;
  }
  SwsContext* sws = d.sws;
  // libswscale's vector code converts whole blocks of pixels: its target rows need the
  // padding of an FFmpeg frame buffer (a row of 3·width bytes would be overrun when the
  // width is not a multiple of 16). Converted there, then copied row by row.
  if (!d.rgb || d.rgb->width != f->width || d.rgb->height != f->height) {
    av_frame_free(&d.rgb);
    d.rgb = ffmpeg::alloc_frame(AV_PIX_FMT_RGB24, f->width, f->height);
    TV3S_CHECK(d.rgb != nullptr, name_, ": out of memory");
  }
  sws_scale(sws, f->data, f->linesize, 0, f->height, d.rgb->data, d.rgb->linesize);
  image.width = f->width, image.height = f->height;
  image.rgb.resize(size_t(f->width) * f->height * 3);
  for (int y = 0; y < f->height; ++y)
    std::memcpy(image.rgb.data() + size_t(y) * f->width * 3, d.rgb->data[0] + size_t(y) * d.rgb->linesize[0],
                size_t(f->width) * 3);

  pts = f->best_effort_timestamp != AV_NOPTS_VALUE ? f->best_effort_timestamp : d.last_pts + d.frame_duration;
  d.last_pts = pts;
  av_frame_unref(f);
  ++frames_read_;
  return true;
}

}  // namespace tv3s::io
