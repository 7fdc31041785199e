// Every bound that a file's content can set on what tv3s allocates or walks, in one
// place. A parser checks a size read from a file against the file's own size where it
// can (a declared tensor, frame, entry or header must fit in the bytes that are there);
// the constants below bound what the file's size cannot: headers, nesting, counts of
// values built from a few bytes, and the memory that views or a pipe may ask for.
//
// Bounds derived from the file's size, with no constant (enforced where noted):
//  - safetensors: each tensor's byte range lies inside the data area and no two ranges
//    overlap, so the tensors together fit in the file (safetensors.cpp, parse_entry);
//  - zip: the central directory lies inside the archive and holds at most its size / 46
//    records; every entry is stored (no compression, so no expansion ratio) and lies
//    inside the archive's data without overlapping another (zip_reader.cpp);
//  - torch .pth: every storage entry holds exactly numel × element size bytes
//    (torch_checkpoint.cpp);
//  - .npy: the data is exactly the shape's product × item size bytes (npy.cpp);
//  - Y4M, a regular file: the bytes left hold the whole frame before its buffer is
//    allocated; a pipe's buffer grows with the bytes that arrive (y4m.cpp).
#pragma once
#include <cstddef>
#include <cstdint>

namespace tv3s::io {

// Checksums (zip's CRC-32, the PNG chunk CRCs of label maps and frames, the training
// checkpoint's CRC) are verified everywhere except in fuzzing builds (CMakeLists.txt,
// TV3S_FUZZ), where they would reject every mutated input before the parser behind them.
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
constexpr bool kVerifyChecksums = false;
#else
constexpr bool kVerifyChecksums = true;
#endif

// JSON (json_text.cpp) --------------------------------------------------------------------
// tv3s's own JSON nests 3 levels at most; 64 keeps recursive walks (dump, compare) of a
// parsed value far from the end of the stack.
constexpr int kMaxJsonDepth = 64;
// Config files, class lists and config.json are read whole: far above any real one
// (a 256-class list is ~10 KB), far below what would strain memory.
constexpr uint64_t kMaxJsonFileBytes = uint64_t(16) << 20;

// Model files (models/config.cpp) -------------------------------------------------------------
// tv3s.num_classes, and the class names and palette colours listed with it: labels are
// 16-bit at most in any dataset tv3s reads.
constexpr size_t kMaxClasses = 65536;

// safetensors (safetensors.cpp, train/checkpoint.cpp) -------------------------------------
// The reference implementation's limit on the header's JSON.
constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

// .npy (npy.cpp) ---------------------------------------------------------------------------
// NumPy's own limit on the header's dict literal.
constexpr uint64_t kMaxNpyHeaderBytes = 10000;

// pickle (pickle.h, torch_checkpoint.cpp) --------------------------------------------------
// A torch checkpoint takes some 20 values per tensor, so the largest model with its
// optimizer state needs about 1e5 values (a Value is ~150 bytes: 1e6 bound memory to
// ~150 MB), and a stack of a few thousand (pickle writes dict items in batches of 1000).
constexpr size_t kMaxPickleValues = 1'000'000;
constexpr size_t kMaxPickleStack = 1'000'000;  // values on the stack, and open MARKs
constexpr size_t kMaxPickleMemo = 1'000'000;   // memo entries
// Dicts of tensors and the meta dict nest a few levels; the walks over them recurse.
constexpr int kMaxPickleDepth = 64;
// Views may overlap (tensors sharing one storage), so a .pth's tensors may take more
// memory than the file — tv3s's own fixtures ~250× — but not without bound: at most
// this many times the file's size, plus the slack below.
constexpr uint64_t kMaxTorchTensorBytesPerFileByte = 256;
constexpr uint64_t kTorchTensorBytesSlack = uint64_t(256) << 20;

// Images: frames (image.cpp, jpeg.cpp, png.cpp) and label maps (label_png.cpp), all checked
// before a pixel buffer is allocated.
//
// Each side ≤ 16384 and at most 2^26 pixels (8192², 16384×4096): 30 times a 4K frame and
// 32 times the largest frames tv3s is trained on (2048×1024), so no real video frame is
// refused, while the RGB buffer stays ≤ 192 MiB. (2^28, the budget of stb days, would
// let a 600-byte header ask for 768 MiB of pixels and 1.5 GiB of progressive-JPEG
// coefficients.)
constexpr int kMaxImageSide = 16384;
constexpr int64_t kMaxImagePixels = int64_t(1) << 26;
// Files are streamed, not read whole; the cap bounds the time spent on one.
constexpr uint64_t kMaxImageFileBytes = uint64_t(1) << 30;
// Progressive and multi-scan JPEGs: every scan is a pass over the whole coefficient
// buffer, and a scan of end-of-band runs costs a few bytes, so a small file could buy
// thousands of passes. Encoders write ≤ 10 or so (libjpeg's default progression: 10; the
// standard scripts of mozjpeg and jpegtran -optimize stay under 20); libjpeg-turbo's own
// answer to this is a scan limit (djpeg -maxscans, TJPARAM_SCANLIMIT).
constexpr int kMaxJpegScans = 64;
// libjpeg's memory cap (max_memory_to_use): its only large allocation is the coefficient
// buffer of a progressive/multi-scan file, 2 bytes per sample, ≤ 6 bytes a pixel (4:4:4),
// so 384 MiB covers kMaxImagePixels. Past it libjpeg would need a backing store, which
// libjpeg-turbo does not have: the decode fails instead.
constexpr long kMaxJpegMemory = 6L * kMaxImagePixels;

// Y4M (y4m.cpp) ----------------------------------------------------------------------------
// Header and FRAME lines: a real header is under 100 bytes.
constexpr size_t kMaxY4mLineBytes = 1024;
// W·H: 2^28 pixels (16384²) keeps frame sizes in 32-bit-safe int64 arithmetic and a frame
// buffer under 768 MiB.
constexpr int64_t kMaxY4mPixels = int64_t(1) << 28;
// A pipe cannot say how much is coming: its frame buffer grows at most this far ahead of
// the bytes read, so a header that promises a huge frame costs memory only as data comes.
constexpr size_t kY4mPipeChunkBytes = size_t(16) << 20;

// Video through FFmpeg (video_reader.cpp, video_writer.cpp) --------------------------------
// Frames obey the image limits above (kMaxImageSide, kMaxImagePixels): checked on the
// stream's header and given to the decoder as its max_pixels, so a few bytes declaring a
// huge frame fail before the decoder allocates it.
// Opening a source (and, for a network stream, finding its first frames) may take this
// long; after that every read may wait this long for data. A camera or a stream that
// stops sending fails with a message instead of hanging the run.
constexpr double kVideoOpenSeconds = 20.0;
constexpr double kVideoStallSeconds = 10.0;

}  // namespace tv3s::io
