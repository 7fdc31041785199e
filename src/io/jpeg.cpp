// JPEG through libjpeg-turbo's jpeglib API, decoding as OpenCV's cv2.imread(path,
// IMREAD_COLOR) does (modules/imgcodecs/src/grfmt_jpeg.cpp): libjpeg's defaults (ISLOW
// integer IDCT, fancy upsampling), out_color_space JCS_RGB for 1- and 3-component files
// (libjpeg replicates grey into R, G and B), JCS_CMYK for 4-component ones, converted to
// RGB with OpenCV's integer formula. So the pixels are the official pipeline's, bit for
// bit (tests/io/test_image_decode.cpp, fixtures written by cv2).
//
// Errors. libjpeg reports a fatal error through error_exit, which must not return: it
// longjmps back into one of the small call_* functions below. They hold no C++ objects
// and libjpeg is C, so no destructor is skipped; the reader state they touch lives in
// JpegReader, a plain struct owned by the caller. Corrupt-data warnings (bad Huffman
// code, premature end of a segment, resync) are errors too, at the first one: libjpeg
// would fill the rest with grey and go on, and tv3s's contract is that a corrupt or
// truncated file fails. Stopping there also bounds the work a small corrupt file can
// cause. Only warnings that change no pixel are ignored (extraneous bytes before a
// marker, an unknown JFIF revision or Adobe transform code, a bad ICC marker). Nothing
// is printed on stderr.
//
// The source reads the stream 64 KiB at a time and fails at its end (libjpeg's own
// sources would invent an end-of-image marker and warn): a truncated file stops the
// decoder at the data's end.
#include <algorithm>
#include <csetjmp>
#include <cstdio>  // jpeglib.h uses FILE and size_t without including their headers
#include <cstdlib>
#include <memory>

#include <jerror.h>
#include <jpeglib.h>

#include "src/io/image_codecs.h"

namespace tv3s::io::codec {
namespace {

// Everything libjpeg touches while reading. Plain data: longjmp may cross it.
struct JpegReader {
  jpeg_decompress_struct cinfo;
  jpeg_error_mgr err;
  jpeg_source_mgr source;
  jpeg_progress_mgr progress;
  jmp_buf jump;
  std::istream* in;
  char why[JMSG_LENGTH_MAX + 80];  // the error, as the text after "<path>: "
  JOCTET buffer[1 << 16];
};

JpegReader& reader_of(j_common_ptr cinfo) { return *static_cast<JpegReader*>(cinfo->client_data); }

void on_error(j_common_ptr cinfo) {
  JpegReader& r = reader_of(cinfo);
  char message[JMSG_LENGTH_MAX] = {};
  (*cinfo->err->format_message)(cinfo, message);
  const int code = cinfo->err->msg_code;
  if (code == JERR_NO_BACKING_STORE || code == JERR_OUT_OF_MEMORY) {
    std::snprintf(r.why, sizeof r.why, "JPEG needs more than %ld MiB to decode, the limit",
                  kMaxJpegMemory >> 20);
  } else {
    std::snprintf(r.why, sizeof r.why, "corrupt or truncated JPEG (libjpeg: %s)", message);
  }
  std::longjmp(r.jump, 1);
}

// level < 0: a warning (corrupt data); level ≥ 0: trace messages, never wanted.
void on_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;
  switch (cinfo->err->msg_code) {
    case JWRN_EXTRANEOUS_DATA: case JWRN_JFIF_MAJOR: case JWRN_ADOBE_XFORM: case JWRN_BOGUS_ICC:
      return;
    default:
      on_error(cinfo);
  }
}

void on_output_message(j_common_ptr) {}

// Called by libjpeg while it consumes input (once per iMCU row): enforces the scan limit.
void on_progress(j_common_ptr cinfo) {
  const auto* dinfo = reinterpret_cast<j_decompress_ptr>(cinfo);
  if (dinfo->input_scan_number > kMaxJpegScans) {
    JpegReader& r = reader_of(cinfo);
    std::snprintf(r.why, sizeof r.why, "JPEG has more than %d scans, the limit", kMaxJpegScans);
    std::longjmp(r.jump, 1);
  }
}

void init_source(j_decompress_ptr) {}
void term_source(j_decompress_ptr) {}

boolean fill_input_buffer(j_decompress_ptr cinfo) {
  JpegReader& r = reader_of(reinterpret_cast<j_common_ptr>(cinfo));
  r.in->read(reinterpret_cast<char*>(r.buffer), sizeof r.buffer);
  const auto got = size_t(r.in->gcount());
  if (got == 0) ERREXIT(cinfo, JERR_INPUT_EOF);
  r.source.next_input_byte = r.buffer;
  r.source.bytes_in_buffer = got;
  return TRUE;
}

void skip_input_data(j_decompress_ptr cinfo, long count) {
  jpeg_source_mgr& source = *cinfo->src;
  if (count <= 0) return;
  while (size_t(count) > source.bytes_in_buffer) {
    count -= long(source.bytes_in_buffer);
    fill_input_buffer(cinfo);
  }
  source.next_input_byte += count;
  source.bytes_in_buffer -= size_t(count);
}

// Owns the reader; destroying a never-created or half-created decompressor is safe
// (jpeg_destroy checks cinfo.mem, which the value-initialised struct holds as null).
struct JpegReaderOwner {
  std::unique_ptr<JpegReader> reader = std::make_unique<JpegReader>();
  ~JpegReaderOwner() { jpeg_destroy_decompress(&reader->cinfo); }
};

bool call_read_header(JpegReader* r) {
  if (setjmp(r->jump)) return false;
  jpeg_create_decompress(&r->cinfo);
  r->cinfo.src = &r->source;
  r->cinfo.progress = &r->progress;
  r->cinfo.mem->max_memory_to_use = kMaxJpegMemory;
  jpeg_save_markers(&r->cinfo, JPEG_APP0 + 1, 0xffff);  // EXIF
  jpeg_read_header(&r->cinfo, TRUE);
  // OpenCV's choice of output (grfmt_jpeg.cpp, JpegDecoder::readData, colour case).
  r->cinfo.out_color_space = r->cinfo.num_components == 4 ? JCS_CMYK : JCS_RGB;
  jpeg_calc_output_dimensions(&r->cinfo);
  return true;
}

// Adobe CMYK as libjpeg gives it (inverted: 255 is no ink) to RGB, OpenCV's integer
// formula (icvCvt_CMYK2BGR_8u_C4C3R): each of C, M, Y becomes k - ((255 - v) * k >> 8).
void cmyk_to_rgb(const uint8_t* cmyk, uint8_t* rgb, int width) {
  for (int x = 0; x < width; ++x, cmyk += 4, rgb += 3) {
    const int k = cmyk[3];
    for (int c = 0; c < 3; ++c) rgb[c] = uint8_t(k - ((255 - cmyk[c]) * k >> 8));
  }
}

bool call_decompress(JpegReader* r, uint8_t* rgb, uint8_t* cmyk_row) {
  if (setjmp(r->jump)) return false;
  jpeg_decompress_struct& cinfo = r->cinfo;
  jpeg_start_decompress(&cinfo);
  const size_t stride = size_t(cinfo.output_width) * 3;
  while (cinfo.output_scanline < cinfo.output_height) {
    uint8_t* out = rgb + size_t(cinfo.output_scanline) * stride;
    JSAMPROW row = cmyk_row ? cmyk_row : out;
    jpeg_read_scanlines(&cinfo, &row, 1);
    if (cmyk_row) cmyk_to_rgb(cmyk_row, out, int(cinfo.output_width));
  }
  jpeg_finish_decompress(&cinfo);  // reads on to the end-of-image marker
  return true;
}

struct JpegWriter {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr err;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  unsigned char* out;  // malloc'd by jpeg_mem_dest
  unsigned long out_size;
};

void on_write_error(j_common_ptr cinfo) {
  auto& w = *static_cast<JpegWriter*>(cinfo->client_data);
  (*cinfo->err->format_message)(cinfo, w.message);
  std::longjmp(w.jump, 1);
}

struct JpegWriterOwner {
  std::unique_ptr<JpegWriter> writer = std::make_unique<JpegWriter>();
  ~JpegWriterOwner() {
    jpeg_destroy_compress(&writer->cinfo);
    std::free(writer->out);
  }
};

// libjpeg's defaults: 4:2:0 chroma, ISLOW DCT, standard Huffman tables, a JFIF header
// with no timestamp: the bytes depend on the pixels, the quality and libjpeg-turbo alone.
bool call_compress(JpegWriter* w, const Image* image, int quality) {
  if (setjmp(w->jump)) return false;
  jpeg_compress_struct& cinfo = w->cinfo;
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &w->out, &w->out_size);
  cinfo.image_width = JDIMENSION(image->width);
  cinfo.image_height = JDIMENSION(image->height);
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  cinfo.dct_method = JDCT_ISLOW;
  jpeg_start_compress(&cinfo, TRUE);
  const size_t stride = size_t(image->width) * 3;
  while (cinfo.next_scanline < cinfo.image_height) {
    auto row = const_cast<JSAMPROW>(image->rgb.data() + size_t(cinfo.next_scanline) * stride);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  return true;
}

}  // namespace

Decoded decode_jpeg(const std::string& path, std::istream& in, bool header_only) {
  JpegReaderOwner owner;
  JpegReader* r = owner.reader.get();
  r->in = &in;
  r->cinfo.err = jpeg_std_error(&r->err);
  r->err.error_exit = on_error;
  r->err.emit_message = on_message;
  r->err.output_message = on_output_message;
  r->cinfo.client_data = r;
  r->source.init_source = init_source;
  r->source.fill_input_buffer = fill_input_buffer;
  r->source.skip_input_data = skip_input_data;
  r->source.resync_to_restart = jpeg_resync_to_restart;
  r->source.term_source = term_source;
  r->progress.progress_monitor = on_progress;
  if (!call_read_header(r)) fail(str(path, ": ", r->why));

  Decoded decoded;
  for (jpeg_saved_marker_ptr m = r->cinfo.marker_list; m; m = m->next) {
    if (m->marker == JPEG_APP0 + 1 && m->data_length > 6 && std::equal(m->data, m->data + 6, "Exif\0")) {
      decoded.orientation = exif_orientation(m->data + 6, m->data_length - 6);
      break;
    }
  }
  const int width = int(r->cinfo.output_width), height = int(r->cinfo.output_height);
  check_image_size(path, width, height);
  decoded.image.width = width;
  decoded.image.height = height;
  if (header_only) return decoded;

  decoded.image.rgb.resize(size_t(width) * size_t(height) * 3);
  std::unique_ptr<uint8_t[]> cmyk_row;
  if (r->cinfo.out_color_space == JCS_CMYK) cmyk_row = std::make_unique<uint8_t[]>(size_t(width) * 4);
  if (!call_decompress(r, decoded.image.rgb.data(), cmyk_row.get())) fail(str(path, ": ", r->why));
  return decoded;
}

std::string encode_jpeg(const std::string& path, const Image& image, int quality) {
  JpegWriterOwner owner;
  JpegWriter* w = owner.writer.get();
  w->cinfo.err = jpeg_std_error(&w->err);
  w->err.error_exit = on_write_error;
  w->err.output_message = on_output_message;
  w->cinfo.client_data = w;
  if (!call_compress(w, &image, quality)) fail(str(path, ": JPEG encoding failed (libjpeg: ", w->message, ")"));
  return std::string(reinterpret_cast<const char*>(w->out), size_t(w->out_size));
}

}  // namespace tv3s::io::codec
