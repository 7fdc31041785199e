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
// lines up to that level go to stderr — and keeps the first line of level error or worse.
void quiet_log();
// The first error line since clear_logged_error(), "<component>: <text>" (e.g. "h264:
// error while decoding MB 5 3"): the calling thread's if it logged one, else any thread's
// (a decoder's worker threads log too); "" when there was none.
std::string logged_error();
void clear_logged_error();
// How many error lines the calling thread has logged: a demuxer that meets damage logs
// and carries on, and this is how its caller notices.
int64_t errors_on_this_thread();

// av_strerror's text for an AVERROR code, e.g. "Invalid data found when processing input".
std::string error_text(int code);
// " (<logged_error()>)" when there is one, else " (<error_text(code)>)" — for message tails.
std::string reason(int code);

// The matrix a stream tags, automatic when it has none (or one tv3s does not convert with
// its own name: then FFmpeg's own coefficients are used as they are).
YuvMatrix matrix_of(AVColorSpace space);
AVColorSpace color_space_of(YuvMatrix matrix);  // matrix: not automatic
// The colour primaries and transfer that go with a matrix when a writer tags its output.
AVColorPrimaries primaries_of(YuvMatrix matrix);
AVColorTransferCharacteristic transfer_of(YuvMatrix matrix);
int sws_colorspace_of(YuvMatrix matrix);  // SWS_CS_* for sws_getCoefficients

// A libswscale context for width × height from `source` to `target` (same size), bicubic
// as the ffmpeg command's default, with the ranges set before it is initialised: set
// afterwards (sws_setColorspaceDetails), libswscale ignores a source range change for
// high-bit-depth YUV. The matrix is set by the caller. nullptr if libswscale refuses.
SwsContext* make_scaler(int width, int height, AVPixelFormat source, bool source_full_range,
                        AVPixelFormat target, bool target_full_range);

// A frame buffer of this format and size with FFmpeg's row alignment and padding (what
// libswscale's vector code may write and read up to); nullptr when out of memory.
AVFrame* alloc_frame(AVPixelFormat format, int width, int height);

// The deprecated full-range formats (yuvj420p, ...) as their plain twin plus full range,
// as libswscale wants them; other formats unchanged.
AVPixelFormat plain_format(AVPixelFormat format, bool* full_range);

}  // namespace tv3s::io::ffmpeg
