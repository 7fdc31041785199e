// VideoWriter over FFmpeg: RGB → (pad to even) → libswscale → encoder → muxer.
#include "src/io/video_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "src/io/ffmpeg_common.h"
#include "tv3s/error.h"

extern "C" {
#include <libavutil/opt.h>
}

namespace tv3s::io {

void check_video_output_name(const std::string& path) {
  ffmpeg::quiet_log();
  TV3S_CHECK(av_guess_format(nullptr, path.c_str(), nullptr) != nullptr, path,
             ": FFmpeg knows no video container by this name's extension (use .mp4, .mkv, .webm, ...)");
}

struct VideoWriter::Encoder {
  AVFormatContext* format = nullptr;
  AVCodecContext* codec = nullptr;
  AVStream* stream = nullptr;
  SwsContext* sws = nullptr;
  AVFrame* frame = nullptr;  // the encoder's pixel format, coded size
  AVPacket* packet = nullptr;
  AVFrame* rgb = nullptr;       // the frame given to write(), at the coded size
  int width = 0, height = 0;    // the frames given to write()
  AVRational input_time_base{1, 25};
  int64_t last_pts = INT64_MIN;
  std::string partial;
  bool io_open = false, finished = false;

  ~Encoder() {
    sws_freeContext(sws);
    av_frame_free(&rgb);
    av_frame_free(&frame);
    av_packet_free(&packet);
    avcodec_free_context(&codec);
    if (io_open) avio_closep(&format->pb);
    avformat_free_context(format);
    if (!finished && !partial.empty()) std::remove(partial.c_str());
  }

  // Everything the encoder has ready goes into the file.
  void write_packets(const std::string& path) {
    for (;;) {
      int err = avcodec_receive_packet(codec, packet);
      if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
      TV3S_CHECK(err >= 0, path, ": the ", codec->codec->name, " encoder failed", ffmpeg::reason(err));
      av_packet_rescale_ts(packet, codec->time_base, stream->time_base);
      packet->stream_index = stream->index;
      err = av_interleaved_write_frame(format, packet);  // takes the packet's data
      TV3S_CHECK(err >= 0, path, ": cannot write the video", ffmpeg::reason(err));
    }
  }
};

namespace {

// H.264 through libx264 where the container takes it, else the container's default.
const AVCodec* choose_encoder(const AVOutputFormat* container) {
  if (avformat_query_codec(container, AV_CODEC_ID_H264, FF_COMPLIANCE_NORMAL) == 1)
    if (const AVCodec* x264 = avcodec_find_encoder_by_name("libx264")) return x264;
  return avcodec_find_encoder(container->video_codec);
}

// yuv420p where the encoder takes it (every player does), else the encoder's closest
// format to RGB.
AVPixelFormat choose_pixel_format(const AVCodec* encoder) {
  if (!encoder->pix_fmts) return AV_PIX_FMT_YUV420P;
  for (const AVPixelFormat* f = encoder->pix_fmts; *f != AV_PIX_FMT_NONE; ++f)
    if (*f == AV_PIX_FMT_YUV420P) return *f;
  return avcodec_find_best_pix_fmt_of_list(encoder->pix_fmts, AV_PIX_FMT_RGB24, 0, nullptr);
}

bool valid(Rational r) { return r.num > 0 && r.den > 0; }

}  // namespace

VideoWriter::VideoWriter(const std::string& path, int width, int height, Rational time_base,
                         Rational frame_rate, YuvMatrix matrix)
    : path_(path), encoder_(std::make_unique<Encoder>()) {
  ffmpeg::quiet_log();
  ffmpeg::clear_logged_error();
  Encoder& e = *encoder_;
  TV3S_CHECK(width > 0 && height > 0, path, ": cannot write a video of ", width, "×", height, " frames");
  if (!valid(frame_rate)) frame_rate = {25, 1};
  if (!valid(time_base)) time_base = {frame_rate.den, frame_rate.num};
  if (matrix == YuvMatrix::automatic) matrix = automatic_yuv_matrix(width, height);
  e.width = width, e.height = height;
  e.input_time_base = {time_base.num, time_base.den};

  check_video_output_name(path);
  int err = avformat_alloc_output_context2(&e.format, nullptr, nullptr, path.c_str());
  TV3S_CHECK(err >= 0 && e.format, path, ": cannot set up the video container", ffmpeg::reason(err));
  const AVCodec* encoder = choose_encoder(e.format->oformat);
  TV3S_CHECK(encoder != nullptr, path, ": this FFmpeg has no encoder for ",
             avcodec_get_name(e.format->oformat->video_codec), ", the default codec of ",
             e.format->oformat->name, " files");
  codec_ = encoder->name;

  const AVPixelFormat pixel_format = choose_pixel_format(encoder);
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(pixel_format);
  const int pad_x = (width & ((1 << desc->log2_chroma_w) - 1)) ? 1 : 0;
  const int pad_y = (height & ((1 << desc->log2_chroma_h) - 1)) ? 1 : 0;

  e.codec = avcodec_alloc_context3(encoder);
  TV3S_CHECK(e.codec != nullptr, path, ": out of memory");
  AVCodecContext* c = e.codec;
  c->width = width + pad_x, c->height = height + pad_y;
  c->pix_fmt = pixel_format;
  c->framerate = {frame_rate.num, frame_rate.den};
  c->time_base = e.input_time_base;
  // MPEG-4 part 2 allows no time base finer than 1/65535 (MPEG-TS input has 1/90000).
  if (encoder->id == AV_CODEC_ID_MPEG4 && c->time_base.den > 65535) c->time_base = av_inv_q(c->framerate);
  c->sample_aspect_ratio = {1, 1};
  c->colorspace = ffmpeg::color_space_of(matrix);
  c->color_primaries = ffmpeg::primaries_of(matrix);
  c->color_trc = ffmpeg::transfer_of(matrix);
  c->color_range = AVCOL_RANGE_MPEG;
  if (e.format->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if (std::strcmp(encoder->name, "libx264") == 0) {
    av_opt_set(c->priv_data, "preset", "fast", 0);
    av_opt_set(c->priv_data, "crf", "20", 0);
  } else if (std::strcmp(encoder->name, "libvpx-vp9") == 0) {
    av_opt_set(c->priv_data, "crf", "24", 0);  // constant quality: with bit_rate 0
    av_opt_set(c->priv_data, "deadline", "realtime", 0);
    av_opt_set(c->priv_data, "cpu-used", "8", 0);
    c->bit_rate = 0;
  } else {
    // The rest (MPEG-4 part 2, ...): a fixed quantiser, not the 200 kb/s default.
    c->flags |= AV_CODEC_FLAG_QSCALE;
    c->global_quality = FF_QP2LAMBDA * 3;
  }
  err = avcodec_open2(c, encoder, nullptr);
  TV3S_CHECK(err >= 0, path, ": cannot open the ", encoder->name, " encoder", ffmpeg::reason(err));

  e.stream = avformat_new_stream(e.format, nullptr);
  TV3S_CHECK(e.stream != nullptr, path, ": out of memory");
  e.stream->time_base = c->time_base;
  e.stream->avg_frame_rate = c->framerate;
  e.stream->sample_aspect_ratio = c->sample_aspect_ratio;
  err = avcodec_parameters_from_context(e.stream->codecpar, c);
  TV3S_CHECK(err >= 0, path, ": bad encoder parameters", ffmpeg::reason(err));

  e.frame = av_frame_alloc();
  e.packet = av_packet_alloc();
  TV3S_CHECK(e.frame && e.packet, path, ": out of memory");
  e.frame->format = pixel_format, e.frame->width = c->width, e.frame->height = c->height;
  e.frame->colorspace = c->colorspace, e.frame->color_range = c->color_range;
  e.frame->color_primaries = c->color_primaries, e.frame->color_trc = c->color_trc;
  err = av_frame_get_buffer(e.frame, 64);
  TV3S_CHECK(err >= 0, path, ": out of memory");
  e.sws = ffmpeg::make_scaler(c->width, c->height, AV_PIX_FMT_RGB24, true, pixel_format, false);
  TV3S_CHECK(e.sws != nullptr, path, ": cannot convert RGB to ", av_get_pix_fmt_name(pixel_format));
  sws_setColorspaceDetails(e.sws, sws_getCoefficients(SWS_CS_DEFAULT), 1,
                           sws_getCoefficients(ffmpeg::sws_colorspace_of(matrix)), 0, 0, 1 << 16, 1 << 16);
  e.rgb = ffmpeg::alloc_frame(AV_PIX_FMT_RGB24, c->width, c->height);
  TV3S_CHECK(e.rgb != nullptr, path, ": out of memory");

  // The muxer writes to the partial name; its url must say so too (the MP4 muxer reopens
  // the file by that name to move its index to the front).
  e.partial = path + ".partial";
  av_freep(&e.format->url);
  e.format->url = av_strdup(e.partial.c_str());
  err = avio_open(&e.format->pb, e.partial.c_str(), AVIO_FLAG_WRITE);
  TV3S_CHECK(err >= 0, path, ": cannot create the video file", ffmpeg::reason(err));
  e.io_open = true;
  AVDictionary* options = nullptr;
  const std::string muxer = e.format->oformat->name;
  if (muxer == "mp4" || muxer == "mov") av_dict_set(&options, "movflags", "+faststart", 0);
  err = avformat_write_header(e.format, &options);
  av_dict_free(&options);
  TV3S_CHECK(err >= 0, path, ": cannot write the video header", ffmpeg::reason(err));
}

VideoWriter::~VideoWriter() = default;

void VideoWriter::write(const Image& image, int64_t pts) {
  Encoder& e = *encoder_;
  TV3S_CHECK(!e.finished, path_, ": the video is already finished");
  TV3S_CHECK(image.width == e.width && image.height == e.height, path_, ": a video has one frame size; "
             "this frame is ", image.width, "×", image.height, ", the video ", e.width, "×", e.height);
  ffmpeg::clear_logged_error();
  AVCodecContext* c = e.codec;
  // Into a padded RGB frame first (libswscale's vector code reads whole blocks of pixels:
  // past the end of a row of exactly 3·width bytes); an odd width or height repeats its
  // last column or row there.
  for (int y = 0; y < c->height; ++y) {
    uint8_t* row = e.rgb->data[0] + size_t(y) * e.rgb->linesize[0];
    std::memcpy(row, image.rgb.data() + size_t(std::min(y, e.height - 1)) * e.width * 3, size_t(e.width) * 3);
    if (c->width > e.width) std::memcpy(row + size_t(e.width) * 3, row + size_t(e.width - 1) * 3, 3);
  }
  int err = av_frame_make_writable(e.frame);
  TV3S_CHECK(err >= 0, path_, ": out of memory");
  sws_scale(e.sws, e.rgb->data, e.rgb->linesize, 0, c->height, e.frame->data, e.frame->linesize);

  int64_t pts_out = av_rescale_q(pts, e.input_time_base, c->time_base);
  if (e.last_pts != INT64_MIN && pts_out <= e.last_pts) pts_out = e.last_pts + 1;
  e.last_pts = pts_out;
  e.frame->pts = pts_out;
  err = avcodec_send_frame(c, e.frame);
  TV3S_CHECK(err >= 0, path_, ": the ", codec_, " encoder failed", ffmpeg::reason(err));
  e.write_packets(path_);
  ++frames_written_;
}

void VideoWriter::finish() {
  Encoder& e = *encoder_;
  if (e.finished) return;
  ffmpeg::clear_logged_error();
  int err = avcodec_send_frame(e.codec, nullptr);  // flush
  TV3S_CHECK(err >= 0, path_, ": the ", codec_, " encoder failed", ffmpeg::reason(err));
  e.write_packets(path_);
  err = av_write_trailer(e.format);
  TV3S_CHECK(err >= 0, path_, ": cannot finish the video", ffmpeg::reason(err));
  err = avio_closep(&e.format->pb);
  e.io_open = false;
  TV3S_CHECK(err >= 0, path_, ": cannot finish the video", ffmpeg::reason(err));
  const int fd = open(e.partial.c_str(), O_RDONLY);
  const bool synced = fd >= 0 && fsync(fd) == 0;
  if (fd >= 0) close(fd);
  TV3S_CHECK(synced && std::rename(e.partial.c_str(), path_.c_str()) == 0, path_,
             ": cannot finish the video (", std::strerror(errno), ")");
  e.finished = true;
}

}  // namespace tv3s::io
