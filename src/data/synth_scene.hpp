// Procedural objects for the synthetic multi-view benchmark, and an independent CPU ray caster that renders them
// (it shares no code with the Gaussian rasterizer, so the benchmark's ground truth does not inherit its errors).
//
// An object is 1–4 analytic primitives (sphere, box, cylinder, cone, torus) with a pose, a size and a procedural
// texture (solid, stripes, checker) defined in the primitive's own frame (so it sticks to the surface in every
// view). Shading is Lambertian with one directional light plus ambient: colour = albedo·(ambient + (1−ambient)·
// max(0, n·l)); the background is black. View-independent shading keeps all views of an object consistent.
// World frame: OpenCV-like (y down, "up" = −y); objects fit in a sphere of radius kSynthObjectRadius at the origin.
#pragma once
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/camera.hpp"

namespace fresnel::synth {

constexpr double kSynthObjectRadius = 0.9;    // bounding-sphere radius every object is scaled to
constexpr double kSynthCameraDistance = 2.6;  // camera centre to object centre
constexpr double kSynthFocalFactor = 1.0;     // fx = fy = factor·image size (≈53° field of view)
constexpr double kSynthAmbient = 0.3;

enum class PrimitiveType { Sphere, Box, Cylinder, Cone, Torus };
enum class TextureType { Solid, Stripes, Checker };
const char* primitive_name(PrimitiveType t);
const char* texture_name(TextureType t);

struct Primitive {
  PrimitiveType type = PrimitiveType::Sphere;
  Vec3 center{0, 0, 0};
  std::array<double, 9> rotation{1, 0, 0, 0, 1, 0, 0, 0, 1};  // local→world, row-major
  // sphere: (radius); box: half extents (x,y,z); cylinder: (radius, half height); cone: (base radius,
  // half height; apex at local +y); torus: (major radius, minor radius; axis local y). Unused entries are 0.
  Vec3 size{0.5, 0, 0};
  TextureType texture = TextureType::Solid;
  Vec3 color_a{0.8, 0.8, 0.8}, color_b{0.2, 0.2, 0.2};
  double frequency = 4.0;  // stripes/checker cells per unit length (local frame)

  double bounding_radius() const;  // around `center`
};

struct Scene {
  std::vector<Primitive> primitives;
  Vec3 light{0, -1, 0};  // unit vector towards the light
  double ambient = kSynthAmbient;
};

struct Hit {
  double t = 0;          // ray parameter; with a direction whose camera-z is 1 this is the depth
  Vec3 normal{0, 0, 0};  // world, outward, unit
  Vec3 local{0, 0, 0};   // hit point in the primitive's frame (for textures)
  int primitive = -1;
};

// Closest hit with t > 1e-9 along origin + t·direction (direction need not be unit). False when the ray misses.
bool intersect(const Scene& scene, const Vec3& origin, const Vec3& direction, Hit& hit);
// Shaded colour of a hit.
Vec3 shade(const Scene& scene, const Hit& hit);

struct RenderedView {
  torch::Tensor rgb;    // (H,W,3) float32
  torch::Tensor depth;  // (H,W) float32 mean camera-z of the covered samples, 0 where none
  torch::Tensor mask;   // (H,W) float32 fraction of covered samples
};
// Ray casts the scene with supersample×supersample samples per pixel (pixel centres at i + 0.5).
RenderedView raycast(const Scene& scene, const Camera& camera, int supersample = 3);

// Everything random about one object of the benchmark: its scene and its views.
struct ObjectSpec {
  Scene scene;
  double input_azimuth = 0, input_elevation = 0;       // radians, spherical_camera convention
  std::vector<double> view_azimuths, view_elevations;  // the other views (absolute, radians)
};
// How far the other views spread around the input view: azimuth offsets stratified over ±azimuth_deg (at least
// 10° from the input; 180 = all around), elevation jittered by ±elevation_deg around the input's.
struct ViewSpread {
  double azimuth_deg = 60;
  double elevation_deg = 20;
};
// Deterministic for (seed, index, spread): the same object whatever the thread count or generation order; the
// default spread gives the same bytes as before the spread was configurable.
ObjectSpec random_object(uint64_t seed, int64_t index, int other_views, const ViewSpread& spread = {});
// Camera of a view at the benchmark's distance and focal length, looking at the origin.
Camera synth_camera(double azimuth, double elevation, int image_size);
nlohmann::json object_to_json(const ObjectSpec& spec, uint64_t seed, int64_t index);

}  // namespace fresnel::synth
