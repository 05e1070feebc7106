#include "acquire/cap3d_object.hpp"

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <regex>

#include "acquire/cap3d_camera.hpp"
#include "core/error.hpp"

namespace fresnel::acquire {

Cap3dObject::Cap3dObject(ZipArchive archive, std::string uid) : archive_(std::move(archive)), uid_(std::move(uid)) {
  static const std::regex pattern(R"((?:^|.*/)(\d{5})(\.png|_depth\.png|\.json)$)", std::regex::icase);
  for (const auto& e : archive_.entries()) {
    std::smatch m;
    if (!std::regex_match(e.name, m, pattern)) continue;
    Files& f = views_[std::stoi(m[1].str())];
    std::string kind = m[2].str();
    for (auto& c : kind) c = char(std::tolower(static_cast<unsigned char>(c)));
    const ZipEntry** slot = kind == ".png" ? &f.rgb : kind == "_depth.png" ? &f.depth : &f.camera;
    if (!*slot) *slot = &e;
  }
  for (auto it = views_.begin(); it != views_.end();)
    it = (it->second.rgb && it->second.depth && it->second.camera) ? std::next(it) : views_.erase(it);
  if (views_.empty())
    throw file_error(archive_.name(), "no Cap3D views (expected 00000.png, 00000_depth.png and 00000.json entries)");
}

std::vector<int> Cap3dObject::views() const {
  std::vector<int> v;
  for (const auto& [index, f] : views_) v.push_back(index);
  return v;
}

const Cap3dObject::Files& Cap3dObject::files(int view) const {
  const auto it = views_.find(view);
  if (it == views_.end()) throw file_error(archive_.name(), "has no view " + std::to_string(view));
  return it->second;
}

static cv::Mat decode_png(const std::string& bytes, int flags, const std::string& where) {
  cv::Mat img;
  try {
    img = cv::imdecode(cv::Mat(1, int(bytes.size()), CV_8U, const_cast<char*>(bytes.data())), flags);
  } catch (const cv::Exception&) {
    img = cv::Mat();
  }
  if (img.empty()) throw Error(where + ": not a decodable image");
  return img;
}

cv::Mat Cap3dObject::decode_depth_raw(int view) const {
  const ZipEntry& e = *files(view).depth;
  cv::Mat d = decode_png(archive_.read(e), cv::IMREAD_UNCHANGED, where(e));
  if (d.depth() != CV_16U) throw Error(where(e) + ": depth must be a 16-bit PNG");
  if (d.channels() > 1) cv::extractChannel(d, d, 0);
  return d;
}

static nlohmann::json parse_json(const std::string& text, const std::string& where) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": invalid JSON: " + e.what());
  }
}

Cap3dObject::ViewInfo Cap3dObject::info(int view) const {
  const cv::Mat d = decode_depth_raw(view);
  const ZipEntry& e = *files(view).camera;
  ViewInfo out;
  out.camera = cap3d_camera_from_json(parse_json(archive_.read(e), where(e)), d.cols, d.rows, where(e));
  out.blank = cv::countNonZero(d != 65535) == 0;
  return out;
}

Cap3dView Cap3dObject::load(int view) const {
  const Files& f = files(view);
  Cap3dView out;
  const cv::Mat raw_depth = decode_depth_raw(view);
  const nlohmann::json cam_json = parse_json(archive_.read(*f.camera), where(*f.camera));
  out.camera = cap3d_camera_from_json(cam_json, raw_depth.cols, raw_depth.rows, where(*f.camera));
  const double max_depth = cap3d_max_depth(cam_json, where(*f.camera));

  cv::Mat img = decode_png(archive_.read(*f.rgb), cv::IMREAD_UNCHANGED, where(*f.rgb));
  if (img.cols != raw_depth.cols || img.rows != raw_depth.rows)
    throw Error(where(*f.rgb) + ": image is " + std::to_string(img.cols) + "x" + std::to_string(img.rows) +
                " but its depth map is " + std::to_string(raw_depth.cols) + "x" + std::to_string(raw_depth.rows));
  const double scale = img.depth() == CV_16U ? 1.0 / 65535 : img.depth() == CV_8U ? 1.0 / 255 : 0;
  if (scale == 0) throw Error(where(*f.rgb) + ": image must be 8- or 16-bit");
  img.convertTo(img, CV_32F, scale);
  // OpenCV decodes BGR(A); Cap3D renders are RGBA with a transparent background: composite on black like
  // `fresnel synth` and preprocessing do.
  cv::Mat rgb, alpha;
  if (img.channels() == 4) {
    cv::cvtColor(img, rgb, cv::COLOR_BGRA2RGB);
    cv::extractChannel(img, alpha, 3);
    cv::Mat alpha3;
    cv::merge(std::vector<cv::Mat>{alpha, alpha, alpha}, alpha3);
    rgb = rgb.mul(alpha3);
  } else if (img.channels() == 3) {
    cv::cvtColor(img, rgb, cv::COLOR_BGR2RGB);
  } else if (img.channels() == 1) {
    cv::cvtColor(img, rgb, cv::COLOR_GRAY2RGB);
  } else {
    throw Error(where(*f.rgb) + ": unsupported channel count " + std::to_string(img.channels()));
  }
  out.rgb = rgb;
  cv::Mat surface = raw_depth != 65535;  // 255 where a surface was hit
  surface.convertTo(out.coverage, CV_32F, 1.0 / 255);
  raw_depth.convertTo(out.depth, CV_32F, max_depth / 65535.0);
  out.depth = out.depth.mul(out.coverage);
  return out;
}

}  // namespace fresnel::acquire
