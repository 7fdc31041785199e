// tv3s.VideoReader and tv3s.VideoWriter over io::VideoReader / io::VideoWriter (FFmpeg's
// libraries): numpy RGB frames with timestamps in seconds; decoding and encoding run
// without the GIL.
//
// Seconds and time bases:
//   reading  pts_seconds = pts · num / den of the stream's time base, in double (exact
//            for any timestamp below 2^53 ticks, then rounded once, to nearest).
//   writing  the writer's time base is 1/90000 s (the MPEG clock: a whole number of ticks
//            per frame at 23.976, 24, 25, 29.97, 30, 50, 59.94 and 60 fps). A timestamp in
//            seconds becomes round(seconds · 90000) ticks, half away from zero; without
//            one, frame i gets round(i · 90000 / fps) ticks with fps as the rational the
//            file declares (below), rounded half up in integer arithmetic. The muxer may
//            rescale ticks into its own time base (the MPEG-4 part 2 encoder, for one,
//            counts in frames).
//   fps      the file's nominal frame rate, as the closest fraction with a denominator of
//            at most 1001 (a continued-fraction convergent): 25.0 → 25/1,
//            30000/1001 → 30000/1001, 29.97 → 2997/100.
#include <nanobind/stl/filesystem.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <atomic>
#include <climits>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>

#include "python/arrays.h"
#include "python/binding.h"
#include "src/io/video_reader.h"
#include "src/io/video_writer.h"

namespace tv3s::python {

namespace {

constexpr int kWriterTicksPerSecond = 90000;

// The convergent of fps's continued fraction with the largest denominator ≤ 1001.
io::Rational rational_rate(double fps) {
  long long num_prev = 0, num = 1, den_prev = 1, den = 0;  // h(-2), h(-1), k(-2), k(-1)
  double x = fps;
  for (int i = 0; i < 64; ++i) {
    const double whole = std::floor(x);
    const long long next_num = (long long)whole * num + num_prev, next_den = (long long)whole * den + den_prev;
    if (next_den > 1001 || next_num > INT_MAX) break;
    num_prev = num, num = next_num, den_prev = den, den = next_den;
    const double rest = x - whole;
    if (rest < 1e-12) break;
    x = 1.0 / rest;
  }
  return {int(num), int(den)};
}

nb::object frame_array(io::Image&& image) {
  const size_t height = size_t(image.height), width = size_t(image.width);
  return numpy_u8(std::move(image.rgb), {height, width, 3});
}

// ---- VideoReader --------------------------------------------------------------------

struct PyVideoReader {
  std::mutex mutex;
  std::unique_ptr<io::VideoReader> reader;  // null once closed
  std::string source;
};

io::VideoReader& open_reader(PyVideoReader& self) {
  if (!self.reader) throw nb::value_error(("VideoReader " + self.source + ": read after close()").c_str());
  return *self.reader;
}

void init_reader(PyVideoReader* self, const std::filesystem::path& source, const std::string& yuv_matrix,
                 const std::string& yuv_range) {
  const io::YuvMatrix matrix = parse_argument(io::parse_yuv_matrix, yuv_matrix);
  const io::YuvRange range = parse_argument(io::parse_yuv_range, yuv_range);
  std::unique_ptr<io::VideoReader> reader;
  {
    nb::gil_scoped_release release;  // opening a network stream can take a while
    reader = std::make_unique<io::VideoReader>(source.string(), matrix, range);
  }
  PyVideoReader* made = new (self) PyVideoReader();
  made->reader = std::move(reader);
  made->source = source.string();
}

nb::tuple next_frame(PyVideoReader& self) {
  io::Image image;
  int64_t pts = 0;
  io::Rational time_base;
  const bool got = without_gil(self.mutex, [&] {
    io::VideoReader& reader = open_reader(self);
    time_base = reader.info().time_base;
    return reader.read(image, pts);
  });
  if (!got) throw nb::stop_iteration();
  const double seconds = double(pts) * time_base.num / time_base.den;
  return nb::make_tuple(frame_array(std::move(image)), seconds);
}

nb::dict reader_info(PyVideoReader& self) {
  const io::VideoInfo info = without_gil(self.mutex, [&] { return open_reader(self).info(); });
  nb::dict d;
  d["width"] = info.width;
  d["height"] = info.height;
  d["container"] = info.container;
  d["codec"] = info.codec;
  d["pixel_format"] = info.pixel_format;
  d["time_base"] = nb::make_tuple(info.time_base.num, info.time_base.den);
  d["frame_rate"] = double(info.frame_rate.num) / info.frame_rate.den;
  d["declared_frames"] = info.declared_frames;
  d["live"] = info.live;
  d["matrix"] = io::yuv_matrix_name(info.matrix);
  d["range"] = io::yuv_range_name(info.range);
  d["matrix_tagged"] = info.matrix_tagged;
  d["range_tagged"] = info.range_tagged;
  return d;
}

// ---- VideoWriter --------------------------------------------------------------------

struct PyVideoWriter {
  std::mutex mutex;
  std::unique_ptr<io::VideoWriter> writer;  // null once closed or abandoned
  std::string path;
  int width = 0, height = 0;
  io::Rational frame_rate;
  std::atomic<int64_t> frames_written{0};  // read by Python while a write runs without the GIL
};

io::VideoWriter& open_writer(PyVideoWriter& self) {
  if (!self.writer) throw nb::value_error(("VideoWriter " + self.path + ": write after close()").c_str());
  return *self.writer;
}

void init_writer(PyVideoWriter* self, const std::filesystem::path& path, int width, int height, double fps) {
  if (width < 1 || height < 1)
    throw nb::value_error(str("VideoWriter: the frame size ", width, "×", height, " is not a size").c_str());
  if (!std::isfinite(fps) || fps < 1.0 / 1001 || fps > 1000)
    throw nb::value_error(str("VideoWriter: fps ", fps, ": expected a rate in 1/1001..1000").c_str());
  const io::Rational frame_rate = rational_rate(fps);
  std::unique_ptr<io::VideoWriter> writer;
  {
    nb::gil_scoped_release release;
    writer = std::make_unique<io::VideoWriter>(path.string(), width, height, io::Rational{1, kWriterTicksPerSecond},
                                               frame_rate);
  }
  PyVideoWriter* made = new (self) PyVideoWriter();
  made->writer = std::move(writer);
  made->path = path.string();
  made->width = width, made->height = height;
  made->frame_rate = frame_rate;
}

int64_t ticks_of(const PyVideoWriter& self, std::optional<double> pts_seconds) {
  if (!pts_seconds) {  // frame i at i / fps, in whole ticks, rounded half up
    const int64_t scaled = self.frames_written * kWriterTicksPerSecond * int64_t(self.frame_rate.den);
    return (2 * scaled + self.frame_rate.num) / (2 * int64_t(self.frame_rate.num));
  }
  const double seconds = *pts_seconds;
  if (!std::isfinite(seconds) || std::fabs(seconds) > 1e9)
    throw nb::value_error(str("VideoWriter.write: pts_seconds ", seconds, " is not a time").c_str());
  return std::llround(seconds * kWriterTicksPerSecond);
}

void write_frame(PyVideoWriter& self, nb::handle frame, std::optional<double> pts_seconds) {
  const std::string expected = str("uint8 [", self.height, ", ", self.width, ", 3] (the writer's size)");
  const AnyArray array = uint8_array(frame, "VideoWriter.write: frame", expected.c_str(), 3);
  if (array.shape(0) != size_t(self.height) || array.shape(1) != size_t(self.width) || array.shape(2) != 3)
    throw nb::value_error(("VideoWriter.write: frame must be " + expected + ", got " + describe(array)).c_str());
  io::Image image;
  image.width = self.width, image.height = self.height;
  image.rgb = dense_copy(array);
  without_gil(self.mutex, [&] {
    open_writer(self).write(image, ticks_of(self, pts_seconds));
    ++self.frames_written;
  });
}

void close_writer(PyVideoWriter& self) {
  without_gil(self.mutex, [&] {
    if (!self.writer) return;  // closing twice is fine, as for a file
    std::unique_ptr<io::VideoWriter> writer = std::move(self.writer);
    writer->finish();  // on failure the writer's destructor removes the partial file
  });
}

void abandon_writer(PyVideoWriter& self) {
  // The destructor of an unfinished writer removes its partial file.
  without_gil(self.mutex, [&] { self.writer.reset(); });
}

}  // namespace

void bind_video(nb::module_& m) {
  m.def("ffmpeg_available", &io::ffmpeg_available,
        "True when this build reads and writes video files through FFmpeg's libraries.");

  nb::class_<PyVideoReader>(m, "VideoReader",
                            "Frames of a video file, camera (/dev/video0) or network stream (rtsp://, "
                            "http://, ...) through FFmpeg. Iterating yields (frame, pts_seconds): frame "
                            "uint8 [H, W, 3] RGB, pts_seconds its presentation time: the timestamp "
                            "times info['time_base'], in double precision.")
      .def("__init__", &init_reader, nb::arg("source"), nb::arg("yuv_matrix") = "auto",
           nb::arg("yuv_range") = "auto",
           "Opens `source`. yuv_matrix: 'auto' (the stream's tag, else guessed from the size), "
           "'601', '709', '2020'; yuv_range: 'auto', 'limited', 'full' — a name given wins over "
           "the stream's tags. Raises tv3s.Error when the source cannot be read.")
      .def("__iter__", [](nb::handle self) { return self; })
      .def("__next__", &next_frame, nb::sig("def __next__(self) -> tuple[numpy.ndarray, float]"),
           "The next frame and its timestamp in seconds (GIL released).")
      .def_prop_ro("info", &reader_info,
                   "dict: width, height, container, codec, pixel_format, time_base (num, den), "
                   "frame_rate (float), declared_frames (-1 if unknown), live, matrix, range, "
                   "matrix_tagged, range_tagged.")
      .def_prop_ro("frames_read",
                   [](PyVideoReader& self) {
                     return without_gil(self.mutex, [&] { return open_reader(self).frames_read(); });
                   })
      .def_prop_ro("source", [](const PyVideoReader& self) { return self.source; })
      .def(
          "close", [](PyVideoReader& self) { without_gil(self.mutex, [&] { self.reader.reset(); }); },
          "Closes the source (closing twice is fine).")
      .def("__enter__", [](nb::handle self) { return self; })
      .def(
          "__exit__",
          [](PyVideoReader& self, nb::handle, nb::handle, nb::handle) {
            without_gil(self.mutex, [&] { self.reader.reset(); });
            return false;
          },
          nb::arg("exc_type").none(), nb::arg("exc_value").none(), nb::arg("traceback").none());

  nb::class_<PyVideoWriter>(m, "VideoWriter",
                            "RGB frames into a video file (H.264 in .mp4/.mkv, VP9 in .webm, ...) "
                            "through FFmpeg. Frames go to <path>.partial, which close() renames to "
                            "<path>; a writer never closed (or left by an exception in a with block) "
                            "leaves no file.")
      .def("__init__", &init_writer, nb::arg("path"), nb::arg("width"), nb::arg("height"), nb::arg("fps") = 25.0,
           "Creates <path>.partial for frames of width × height at the nominal rate fps "
           "(stored as the nearest fraction with a denominator ≤ 1001). Raises tv3s.Error when "
           "the file cannot be created or no encoder takes the container.")
      .def("write", &write_frame, nb::arg("frame"), nb::arg("pts_seconds") = nb::none(),
           nb::sig("def write(self, frame: numpy.ndarray, pts_seconds: float | None = None) -> None"),
           "Encodes frame (uint8 [height, width, 3] RGB) at pts_seconds (default: frame index / "
           "fps), in ticks of 1/90000 s rounded to nearest. A time that does not increase is "
           "moved one tick after the previous one. The GIL is released meanwhile.")
      .def("close", &close_writer, "Flushes the encoder and renames the file into place (twice is fine).")
      .def_prop_ro("frames_written", [](const PyVideoWriter& self) { return self.frames_written.load(); })
      .def_prop_ro("path", [](const PyVideoWriter& self) { return self.path; })
      .def_prop_ro(
          "codec",
          [](PyVideoWriter& self) { return without_gil(self.mutex, [&] { return open_writer(self).codec(); }); },
          "The encoder used, e.g. 'libx264'.")
      .def_prop_ro(
          "frame_rate",
          [](const PyVideoWriter& self) { return nb::make_tuple(self.frame_rate.num, self.frame_rate.den); },
          "The nominal frame rate written into the file, (num, den).")
      .def("__enter__", [](nb::handle self) { return self; })
      .def(
          "__exit__",
          [](PyVideoWriter& self, nb::handle exc_type, nb::handle, nb::handle) {
            if (exc_type.is_none())
              close_writer(self);
            else
              abandon_writer(self);
            return false;
          },
          nb::arg("exc_type").none(), nb::arg("exc_value").none(), nb::arg("traceback").none());
}

}  // namespace tv3s::python
