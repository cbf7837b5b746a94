// H.264 in MP4 or Matroska through FFmpeg's libraries, loaded at first use
// (ffmpeg_api.h): without them vdrt still runs, and only these formats fail.
//
// Streaming constraints drive the settings:
//  - a normal MP4 is unplayable until its index (moov) is written at close;
//    fragmented MP4 (empty moov up front, one moof+mdat per flush) is
//    playable after every fragment, so an interrupted run keeps its chunks;
//  - an encoder with look-ahead or B-frames holds frames back until more
//    arrive, which would leave the last chunk out of the file until close;
//    so encoders run with zero delay (x264's zerolatency tune, no B-frames).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <vector>

#include "runtime/ffmpeg_api.h"
#include "runtime/video_writer_formats.h"

namespace vdrt {
namespace {

std::string av_error(const ffmpeg::Api& av, int code) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av.av_strerror(code, buf, sizeof buf);
  return buf;
}

// Encoders tried in order when none is named: software x264 is the reference
// and needs no hardware; the others are H.264 encoders a distribution may
// ship instead. Any other H.264 encoder accepting yuv420p comes after these.
const char* const kPreferredH264[] = {"libx264",  "libopenh264", "h264_nvenc",
                                      "h264_amf", "h264_mf",     "h264_videotoolbox"};

bool accepts_yuv420p(const AVCodec* codec) {
  if (!codec->pix_fmts) return true;  // unspecified: let avcodec_open2 decide
  for (const AVPixelFormat* p = codec->pix_fmts; *p != AV_PIX_FMT_NONE; ++p)
    if (*p == AV_PIX_FMT_YUV420P) return true;
  return false;
}

std::vector<const AVCodec*> h264_candidates(const ffmpeg::Api& av) {
  std::vector<const AVCodec*> out;
  for (const char* name : kPreferredH264)
    if (const AVCodec* c = av.avcodec_find_encoder_by_name(name)) out.push_back(c);
  void* it = nullptr;
  while (const AVCodec* c = av.av_codec_iterate(&it)) {
    if (!av.av_codec_is_encoder(c) || c->id != AV_CODEC_ID_H264 || !accepts_yuv420p(c)) continue;
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  }
  std::erase_if(out, [](const AVCodec* c) { return !accepts_yuv420p(c); });
  return out;
}

// Sets a private encoder option when the encoder has it; options differ per
// encoder and a missing one is not an error.
void try_set(const ffmpeg::Api& av, AVCodecContext* ctx, const char* name, const std::string& value) {
  av.av_opt_set(ctx->priv_data, name, value.c_str(), 0);
}

// FFmpeg logs encoder banners and statistics at info level on stderr, which
// would interleave with the progress bar; keep warnings and errors only,
// unless the application already chose a level.
void quiet_ffmpeg_logs(const ffmpeg::Api& av) {
  static std::once_flag once;
  std::call_once(once, [&av] {
    if (av.av_log_get_level() == AV_LOG_INFO) av.av_log_set_level(AV_LOG_WARNING);
  });
}

class FfmpegWriter final : public VideoWriter {
 public:
  FfmpegWriter(const std::string& path, VideoFormat container, const VideoWriterOptions& opts)
      : VideoWriter(path),
        av_(ffmpeg::api(container == VideoFormat::Mp4 ? ".mp4" : ".mkv", path)),
        opts_(opts),
        container_(container) {
    quiet_ffmpeg_logs(av_);
    const char* muxer = container == VideoFormat::Mp4 ? "mp4" : "matroska";
    int err = av_.avformat_alloc_output_context2(&fmt_, nullptr, muxer, path.c_str());
    if (err < 0 || !fmt_) throw Error(std::string("FFmpeg has no ") + muxer + " muxer: " + av_error(err), {path});
    // Open now so that a bad path fails before any generation work is done.
    err = av_.avio_open(&fmt_->pb, path.c_str(), AVIO_FLAG_WRITE);
    if (err < 0) {
      release();
      throw Error("cannot create file: " + av_error(err), {path});
    }
    packet_ = av_.av_packet_alloc();
    if (!packet_) {
      release();
      throw OutOfMemory("cannot allocate an FFmpeg packet", {path});
    }
  }
  ~FfmpegWriter() override {
    close_quietly();
    release();
  }

  void write(const Tensor& frames) override {
    if (closed_) throw Error("write() after close()", {path_});
    const RgbFrames rgb(frames, path_);
    if (!header_written_) {
      // A failed start leaves a half-built context that cannot be retried.
      if (started_) throw Error("cannot write after the encoder failed to start", {path_});
      started_ = true;
      start(rgb.width(), rgb.height());
    } else if (rgb.width() != width_ || rgb.height() != height_) {
      throw Error("frame size changed from " + std::to_string(width_) + "x" + std::to_string(height_) + " to " +
                      std::to_string(rgb.width()) + "x" + std::to_string(rgb.height()),
                  {path_});
    }
    for (int64_t f = 0; f < rgb.count(); ++f) {
      check(av_.av_frame_make_writable(frame_), "cannot get a writable frame");
      const RgbFrames::Planes planes{frame_->data[0],     frame_->linesize[0], frame_->data[1],
                                     frame_->linesize[1], frame_->data[2],     frame_->linesize[2]};
      rgb.to_yuv(f, YuvRange::Limited, ChromaFormat::Yuv420, planes, enc_->width, enc_->height);
      frame_->pts = frames_written_;
      check(av_.avcodec_send_frame(enc_, frame_), "encoder rejected a frame");
      drain();
      ++frames_written_;
    }
    flush();
    if (packets_written_ < frames_written_ && !warned_delay_) {
      warned_delay_ = true;
      spdlog::warn("{}: encoder {} holds {} frame(s) back; they reach the file with the next chunk or at close", path_,
                   enc_->codec->name, frames_written_ - packets_written_);
    }
  }

  void flush() override {
    if (closed_ || !header_written_) return;
    // A null packet makes the MP4 muxer emit the pending fragment and the
    // Matroska muxer close its cluster; avio_flush hands the bytes to the OS.
    check(av_.av_write_frame(fmt_, nullptr), "cannot flush");
    av_.avio_flush(fmt_->pb);
    if (fmt_->pb->error < 0) throw Error("cannot write: " + av_error(fmt_->pb->error), {path_});
  }

  void close() override {
    if (closed_) return;
    closed_ = true;
    if (!fmt_) return;
    std::string failure;
    try {
      if (header_written_) {
        check(av_.avcodec_send_frame(enc_, nullptr), "cannot drain the encoder");
        drain();
        check(av_.av_write_trailer(fmt_), "cannot finish the file");
      } else if (!started_) {
        spdlog::warn("{}: closed before any frame was written; the file is empty", path_);
      }
    } catch (const Error& e) {
      failure = e.reason();
    }
    const int err = av_.avio_closep(&fmt_->pb);
    release();
    if (!failure.empty()) throw Error(failure, {path_});
    if (err < 0) throw Error("cannot close: " + av_error(err), {path_});
  }

 private:
  std::string av_error(int code) const { return vdrt::av_error(av_, code); }
  void try_set(AVCodecContext* ctx, const char* name, const std::string& value) const {
    vdrt::try_set(av_, ctx, name, value);
  }

  void check(int err, const char* what) {
    if (err < 0) throw Error(std::string(what) + ": " + av_error(err), {path_});
  }

  void start(int width, int height) {
    width_ = width;
    height_ = height;
    int enc_width = width, enc_height = height;
    if (width % 2 || height % 2) {
      if (!opts_.pad_odd_dimensions)
        throw Error("H.264 4:2:0 needs even frame sizes, got " + std::to_string(width) + "x" + std::to_string(height) +
                        " (enable padding or write .y4m / PNG)",
                    {path_});
      enc_width += width % 2;
      enc_height += height % 2;
      spdlog::warn("{}: {}x{} frames padded to {}x{} (H.264 4:2:0 needs even sizes)", path_, width, height, enc_width,
                   enc_height);
    }
    open_encoder(enc_width, enc_height);

    frame_ = av_.av_frame_alloc();
    if (!frame_) throw OutOfMemory("cannot allocate an FFmpeg frame", {path_});
    frame_->format = enc_->pix_fmt;
    frame_->width = enc_->width;
    frame_->height = enc_->height;
    check(av_.av_frame_get_buffer(frame_, 0), "cannot allocate frame buffers");

    stream_ = av_.avformat_new_stream(fmt_, nullptr);
    if (!stream_) throw OutOfMemory("cannot add a stream", {path_});
    check(av_.avcodec_parameters_from_context(stream_->codecpar, enc_), "cannot describe the stream");
    stream_->time_base = enc_->time_base;
    stream_->avg_frame_rate = enc_->framerate;

    AVDictionary* mux_opts = nullptr;
    if (container_ == VideoFormat::Mp4)
      av_.av_dict_set(&mux_opts, "movflags", "frag_keyframe+empty_moov+default_base_moof", 0);
    const int err = av_.avformat_write_header(fmt_, &mux_opts);
    av_.av_dict_free(&mux_opts);
    check(err, "cannot write the file header");
    header_written_ = true;
  }

  void open_encoder(int width, int height) {
    std::vector<const AVCodec*> candidates;
    if (!opts_.encoder.empty()) {
      const AVCodec* c = av_.avcodec_find_encoder_by_name(opts_.encoder.c_str());
      if (!c) throw Error("FFmpeg has no encoder named '" + opts_.encoder + "'", {path_});
      candidates.push_back(c);
    } else {
      candidates = h264_candidates(av_);
    }
    std::string tried;
    for (const AVCodec* codec : candidates) {
      const int err = try_open(codec, width, height);
      if (err >= 0) return;
      spdlog::debug("{}: encoder {} unavailable: {}", path_, codec->name, av_error(err));
      tried += std::string(tried.empty() ? "" : ", ") + codec->name + " (" + av_error(err) + ")";
    }
    if (!opts_.encoder.empty()) throw Error("cannot open encoder " + tried, {path_});
    const AVCodec* mpeg4 = av_.avcodec_find_encoder(AV_CODEC_ID_MPEG4);
    if (!mpeg4) throw Error("FFmpeg has neither an H.264 nor an MPEG-4 encoder", {path_});
    spdlog::warn("{}: no usable H.264 encoder{}{}; falling back to MPEG-4 part 2 (larger files, less widely playable)",
                 path_, tried.empty() ? "" : ", tried ", tried);
    const int err = try_open(mpeg4, width, height);
    check(err, "cannot open the MPEG-4 encoder");
  }

  // Configures and opens `codec`; on failure leaves enc_ null and returns the
  // FFmpeg error.
  int try_open(const AVCodec* codec, int width, int height) {
    AVCodecContext* ctx = av_.avcodec_alloc_context3(codec);
    if (!ctx) return AVERROR(ENOMEM);
    const AVRational rate = av_.av_d2q(opts_.fps, 1000000);
    ctx->width = width;
    ctx->height = height;
    ctx->pix_fmt = AV_PIX_FMT_YUV420P;
    ctx->framerate = rate;
    ctx->time_base = av_inv_q(rate);
    ctx->gop_size = opts_.keyframe_interval > 0 ? opts_.keyframe_interval
                                                : std::max(1, static_cast<int>(std::lround(2 * opts_.fps)));
    ctx->max_b_frames = 0;
    ctx->thread_count = 0;  // auto; x264's zerolatency tune threads by slices, which adds no delay
    // Say what rgb_frames produced so players convert back correctly.
    ctx->color_range = AVCOL_RANGE_MPEG;
    ctx->colorspace = AVCOL_SPC_SMPTE170M;
    ctx->chroma_sample_location = AVCHROMA_LOC_CENTER;
    if (fmt_->oformat->flags & AVFMT_GLOBALHEADER) ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;

    const int crf = std::clamp(opts_.crf, 0, 51);
    if (codec->id == AV_CODEC_ID_MPEG4) {
      ctx->flags |= AV_CODEC_FLAG_QSCALE;
      ctx->global_quality = FF_QP2LAMBDA * std::clamp(static_cast<int>(std::lround(crf / 6.0)), 2, 31);
    } else {
      try_set(ctx, "preset", "medium");
      try_set(ctx, "tune", "zerolatency");
      try_set(ctx, "crf", std::to_string(crf));  // x264
      try_set(ctx, "cq", std::to_string(crf));   // nvenc
      try_set(ctx, "zerolatency", "1");          // nvenc
      try_set(ctx, "delay", "0");                // nvenc
    }
    const int err = av_.avcodec_open2(ctx, codec, nullptr);
    if (err < 0) {
      av_.avcodec_free_context(&ctx);
      return err;
    }
    enc_ = ctx;
    spdlog::debug("{}: {} {}x{} at {} fps", path_, codec->name, width, height, opts_.fps);
    return 0;
  }

  // Moves every packet the encoder has ready into the muxer.
  void drain() {
    for (;;) {
      const int err = av_.avcodec_receive_packet(enc_, packet_);
      if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
      check(err, "encoder failed");
      av_.av_packet_rescale_ts(packet_, enc_->time_base, stream_->time_base);
      packet_->stream_index = stream_->index;
      const int werr = av_.av_write_frame(fmt_, packet_);
      av_.av_packet_unref(packet_);
      check(werr, "cannot write a packet");
      ++packets_written_;
    }
  }

  void release() noexcept {
    if (fmt_ && fmt_->pb) av_.avio_closep(&fmt_->pb);
    av_.avformat_free_context(fmt_);
    fmt_ = nullptr;
    stream_ = nullptr;
    av_.avcodec_free_context(&enc_);
    av_.av_frame_free(&frame_);
    av_.av_packet_free(&packet_);
  }

  const ffmpeg::Api& av_;
  VideoWriterOptions opts_;
  VideoFormat container_;
  AVFormatContext* fmt_ = nullptr;
  AVStream* stream_ = nullptr;  // owned by fmt_
  AVCodecContext* enc_ = nullptr;
  AVFrame* frame_ = nullptr;
  AVPacket* packet_ = nullptr;
  int width_ = 0, height_ = 0;  // frame size before padding
  int64_t packets_written_ = 0;
  bool started_ = false;
  bool header_written_ = false;
  bool closed_ = false;
  bool warned_delay_ = false;
};

}  // namespace

std::unique_ptr<VideoWriter> make_ffmpeg_writer(const std::string& path, VideoFormat container,
                                                const VideoWriterOptions& opts) {
  return std::make_unique<FfmpegWriter>(path, container, opts);
}

}  // namespace vdrt
