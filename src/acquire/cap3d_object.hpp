// One Cap3D object: a per-object zip of 20 views, each `{i:05}.png` (RGBA), `{i:05}_depth.png` (16-bit,
// metric depth = v/65535·max_depth, 65535 = background), `{i:05}.json` (camera, cap3d_camera.hpp) and an optional
// `{i:05}_MatAlpha.png` (material alpha — not a mask; ignored). Views are decoded on request.
#pragma once
#include <map>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "acquire/zip_archive.hpp"
#include "core/camera.hpp"

namespace fresnel::acquire {

struct Cap3dView {
  cv::Mat rgb;       // CV_32FC3, RGB order, in [0,1], composited on black (premultiplied by alpha)
  cv::Mat depth;     // CV_32F metric depth along the camera z axis, 0 on background
  cv::Mat coverage;  // CV_32F 1 where the depth PNG has a surface, 0 on background
  Camera camera;     // our convention (cap3d_camera.hpp), at the image's resolution
};

class Cap3dObject {
 public:
  // Indexes the views of `archive`. Throws fresnel::Error naming the archive when it has no complete view
  // (image, depth and camera).
  Cap3dObject(ZipArchive archive, std::string uid);

  const std::string& uid() const { return uid_; }
  const std::string& archive_name() const { return archive_.name(); }
  // View numbers that have an image, a depth map and a camera, ascending.
  std::vector<int> views() const;
  // Camera and blankness of a view without decoding its image. Blank: the depth map has no surface pixel
  // (Cap3D's blank renders).
  struct ViewInfo {
    Camera camera;
    bool blank = false;
  };
  ViewInfo info(int view) const;
  // Decodes a view. Throws fresnel::Error naming archive and entry on a corrupt or mismatched file.
  Cap3dView load(int view) const;

 private:
  struct Files {
    const ZipEntry *rgb = nullptr, *depth = nullptr, *camera = nullptr;
  };
  const Files& files(int view) const;
  cv::Mat decode_depth_raw(int view) const;  // CV_16U
  std::string where(const ZipEntry& e) const { return archive_.name() + ": " + e.name; }

  ZipArchive archive_;
  std::string uid_;
  std::map<int, Files> views_;
};

}  // namespace fresnel::acquire
