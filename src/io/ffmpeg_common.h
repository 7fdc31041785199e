// What the FFmpeg reader and writer share (built only with the FFmpeg libraries): the log
// kept quiet and its last error kept for messages, FFmpeg error codes as text, and the
// colour names of FFmpeg next to tv3s's.
#pragma once
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}
#include <string>

#include "src/io/y4m.h"

namespace tv3s::io::ffmpeg {

// Installs (once per process) a log callback that prints nothing — unless the
// environment's TV3S_FFMPEG_LOG is error, warning, info, verbose or debug, then FFmpeg's
// lines up to that level go to stderr — and keeps the last line of level error or worse.
void quiet_log();
// That last error line, "<component>: <text>" (e.g. "h264: error while decoding MB 5 3"),
// or "" when there was none since the last clear_last_error().
std::string last_error();
void clear_last_error();

// av_strerror's text for an AVERROR code, e.g. "Invalid data found when processing input".
std::string error_text(int code);
// " (<last_error()>)" when there is one, else " (<error_text(code)>)" — for message tails.
std::string reason(int code);

// The matrix a stream tags, automatic when it has none (or one tv3s does not convert with
// its own name: then FFmpeg's own coefficients are used as they are).
YuvMatrix matrix_of(AVColorSpace space);
AVColorSpace color_space_of(YuvMatrix matrix);  // matrix: not automatic
// The colour primaries and transfer that go with a matrix when a writer tags its output.
AVColorPrimaries primaries_of(YuvMatrix matrix);
AVColorTransferCharacteristic transfer_of(YuvMatrix matrix);
int sws_colorspace_of(YuvMatrix matrix);  // SWS_CS_* for sws_getCoefficients

// The deprecated full-range formats (yuvj420p, ...) as their plain twin plus full range,
// as libswscale wants them; other formats unchanged.
AVPixelFormat plain_format(AVPixelFormat format, bool* full_range);

}  // namespace tv3s::io::ffmpeg
