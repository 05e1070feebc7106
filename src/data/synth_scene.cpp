#include "data/synth_scene.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

namespace fresnel::synth {
namespace {

constexpr double kEps = 1e-9;
constexpr double kPi = 3.14159265358979323846;
constexpr double kDeg = kPi / 180.0;

Vec3 add(const Vec3& a, const Vec3& b) { return {a[0] + b[0], a[1] + b[1], a[2] + b[2]}; }
Vec3 sub(const Vec3& a, const Vec3& b) { return {a[0] - b[0], a[1] - b[1], a[2] - b[2]}; }
Vec3 mul(const Vec3& a, double s) { return {a[0] * s, a[1] * s, a[2] * s}; }
double dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
double length(const Vec3& a) { return std::sqrt(dot(a, a)); }
Vec3 unit(const Vec3& a) { return mul(a, 1.0 / length(a)); }

// local = Rᵀ·world (R is local→world, row-major).
Vec3 to_local(const std::array<double, 9>& r, const Vec3& v) {
  return {r[0] * v[0] + r[3] * v[1] + r[6] * v[2], r[1] * v[0] + r[4] * v[1] + r[7] * v[2],
          r[2] * v[0] + r[5] * v[1] + r[8] * v[2]};
}
Vec3 to_world(const std::array<double, 9>& r, const Vec3& v) {
  return {r[0] * v[0] + r[1] * v[1] + r[2] * v[2], r[3] * v[0] + r[4] * v[1] + r[5] * v[2],
          r[6] * v[0] + r[7] * v[1] + r[8] * v[2]};
}

// Smallest root > kEps of a t² + b t + c = 0 that passes `accept`; returns +inf when none.
template <typename Accept>
double quadratic_hit(double a, double b, double c, Accept accept) {
  const double inf = std::numeric_limits<double>::infinity();
  if (std::abs(a) < 1e-14) {
    if (std::abs(b) < 1e-14) return inf;
    const double t = -c / b;
    return (t > kEps && accept(t)) ? t : inf;
  }
  const double disc = b * b - 4 * a * c;
  if (disc < 0) return inf;
  const double s = std::sqrt(disc);
  // Numerically stable pair of roots.
  const double q = -0.5 * (b + (b >= 0 ? s : -s));
  double t0 = q / a, t1 = (q != 0) ? c / q : t0;
  if (t0 > t1) std::swap(t0, t1);
  if (t0 > kEps && accept(t0)) return t0;
  if (t1 > kEps && accept(t1)) return t1;
  return inf;
}

// Intersection in the primitive's frame; fills the local normal (not normalised) on success.
double intersect_local(const Primitive& p, const Vec3& o, const Vec3& d, Vec3& n) {
  const double inf = std::numeric_limits<double>::infinity();
  switch (p.type) {
    case PrimitiveType::Sphere: {
      const double r = p.size[0];
      const double t = quadratic_hit(dot(d, d), 2 * dot(o, d), dot(o, o) - r * r, [](double) { return true; });
      if (t < inf) n = add(o, mul(d, t));
      return t;
    }
    case PrimitiveType::Box: {
      double t_near = -inf, t_far = inf;
      int axis = -1;
      for (int i = 0; i < 3; ++i) {
        const double h = p.size[i];
        if (std::abs(d[i]) < 1e-15) {
          if (std::abs(o[i]) > h) return inf;
          continue;
        }
        double t1 = (-h - o[i]) / d[i], t2 = (h - o[i]) / d[i];
        if (t1 > t2) std::swap(t1, t2);
        if (t1 > t_near) {
          t_near = t1;
          axis = i;
        }
        t_far = std::min(t_far, t2);
      }
      if (t_near > t_far || t_near <= kEps || axis < 0) return inf;  // miss, or camera inside the box
      n = {0, 0, 0};
      n[axis] = d[axis] > 0 ? -1 : 1;
      return t_near;
    }
    case PrimitiveType::Cylinder: {
      const double r = p.size[0], h = p.size[1];
      double best =
          quadratic_hit(d[0] * d[0] + d[2] * d[2], 2 * (o[0] * d[0] + o[2] * d[2]), o[0] * o[0] + o[2] * o[2] - r * r,
                        [&](double t) { return std::abs(o[1] + t * d[1]) <= h; });
      if (best < inf) {
        const Vec3 q = add(o, mul(d, best));
        n = {q[0], 0, q[2]};
      }
      if (std::abs(d[1]) > 1e-15) {
        for (double cap : {-h, h}) {
          const double t = (cap - o[1]) / d[1];
          if (t > kEps && t < best) {
            const double x = o[0] + t * d[0], z = o[2] + t * d[2];
            if (x * x + z * z <= r * r) {
              best = t;
              n = {0, cap > 0 ? 1.0 : -1.0, 0};
            }
          }
        }
      }
      return best;
    }
    case PrimitiveType::Cone: {
      // Side: x² + z² = k²(h − y)², −h ≤ y ≤ h, apex at y = h; base disc at y = −h.
      const double r = p.size[0], h = p.size[1], k = r / (2 * h), k2 = k * k;
      const double a = d[0] * d[0] + d[2] * d[2] - k2 * d[1] * d[1];
      const double b = 2 * (o[0] * d[0] + o[2] * d[2] + k2 * (h - o[1]) * d[1]);
      const double c = o[0] * o[0] + o[2] * o[2] - k2 * (h - o[1]) * (h - o[1]);
      double best = quadratic_hit(a, b, c, [&](double t) {
        const double y = o[1] + t * d[1];
        return y >= -h && y <= h;
      });
      if (best < inf) {
        const Vec3 q = add(o, mul(d, best));
        n = {q[0], k2 * (h - q[1]), q[2]};
      }
      if (std::abs(d[1]) > 1e-15) {
        const double t = (-h - o[1]) / d[1];
        if (t > kEps && t < best) {
          const double x = o[0] + t * d[0], z = o[2] + t * d[2];
          if (x * x + z * z <= r * r) {
            best = t;
            n = {0, -1, 0};
          }
        }
      }
      return best;
    }
    case PrimitiveType::Torus: {
      // Sphere tracing on the exact signed distance, inside the bounding sphere; unit direction.
      const double big = p.size[0], small = p.size[1], bound = big + small + 1e-6;
      const double dl = length(d);
      const Vec3 u = mul(d, 1.0 / dl);
      const double b = dot(o, u), c = dot(o, o) - bound * bound, disc = b * b - c;
      if (disc < 0) return inf;
      double s = std::max(0.0, -b - std::sqrt(disc));
      const double s_end = -b + std::sqrt(disc);
      for (int step = 0; step < 400 && s <= s_end; ++step) {
        const Vec3 q = add(o, mul(u, s));
        const double ring = std::sqrt(q[0] * q[0] + q[2] * q[2]);
        const double dist = std::sqrt((ring - big) * (ring - big) + q[1] * q[1]) - small;
        if (dist < 1e-9) {
          const double f = ring > 1e-12 ? 1.0 - big / ring : 0.0;
          n = {q[0] * f, q[1], q[2] * f};
          const double t = s / dl;
          return t > kEps ? t : inf;
        }
        s += dist;
      }
      return inf;
    }
  }
  return inf;
}

Vec3 albedo(const Primitive& p, const Vec3& local) {
  switch (p.texture) {
    case TextureType::Solid:
      return p.color_a;
    case TextureType::Stripes: {
      const auto band = static_cast<int64_t>(std::floor(p.frequency * local[1] + 1000.0));
      return (band % 2 == 0) ? p.color_a : p.color_b;
    }
    case TextureType::Checker: {
      int64_t cell = 0;
      for (int i = 0; i < 3; ++i) cell += static_cast<int64_t>(std::floor(p.frequency * local[i] + 1000.0));
      return (cell % 2 == 0) ? p.color_a : p.color_b;
    }
  }
  return p.color_a;
}

// Deterministic random numbers: splitmix64 seeding and our own uniform mapping (the standard distributions'
// algorithms are implementation-defined, which would break byte-identical outputs across libraries).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform(double lo = 0, double hi = 1) { return lo + (hi - lo) * ((next() >> 11) * 0x1.0p-53); }
  int integer(int lo, int hi) { return lo + static_cast<int>(next() % static_cast<uint64_t>(hi - lo + 1)); }
  double normal() {  // Box–Muller
    const double u1 = uniform(1e-12, 1.0), u2 = uniform();
    return std::sqrt(-2 * std::log(u1)) * std::cos(2 * kPi * u2);
  }

 private:
  uint64_t state_;
};

Vec3 hsv_to_rgb(double h, double s, double v) {
  const double c = v * s, hp = std::fmod(h, 1.0) * 6.0, x = c * (1 - std::abs(std::fmod(hp, 2.0) - 1)), m = v - c;
  Vec3 rgb{0, 0, 0};
  const int sector = static_cast<int>(hp) % 6;
  switch (sector) {
    case 0:
      rgb = {c, x, 0};
      break;
    case 1:
      rgb = {x, c, 0};
      break;
    case 2:
      rgb = {0, c, x};
      break;
    case 3:
      rgb = {0, x, c};
      break;
    case 4:
      rgb = {x, 0, c};
      break;
    default:
      rgb = {c, 0, x};
      break;
  }
  return {rgb[0] + m, rgb[1] + m, rgb[2] + m};
}

std::array<double, 9> random_rotation(Rng& rng) {
  double w = rng.normal(), x = rng.normal(), y = rng.normal(), z = rng.normal();
  const double n = std::sqrt(w * w + x * x + y * y + z * z);
  w /= n, x /= n, y /= n, z /= n;
  return {1 - 2 * (y * y + z * z), 2 * (x * y - w * z),     2 * (x * z + w * y),
          2 * (x * y + w * z),     1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
          2 * (x * z - w * y),     2 * (y * z + w * x),     1 - 2 * (x * x + y * y)};
}

}  // namespace

const char* primitive_name(PrimitiveType t) {
  switch (t) {
    case PrimitiveType::Sphere:
      return "sphere";
    case PrimitiveType::Box:
      return "box";
    case PrimitiveType::Cylinder:
      return "cylinder";
    case PrimitiveType::Cone:
      return "cone";
    case PrimitiveType::Torus:
      return "torus";
  }
  return "?";
}

const char* texture_name(TextureType t) {
  switch (t) {
    case TextureType::Solid:
      return "solid";
    case TextureType::Stripes:
      return "stripes";
    case TextureType::Checker:
      return "checker";
  }
  return "?";
}

double Primitive::bounding_radius() const {
  switch (type) {
    case PrimitiveType::Sphere:
      return size[0];
    case PrimitiveType::Box:
      return length(size);
    case PrimitiveType::Cylinder:
    case PrimitiveType::Cone:
      return std::sqrt(size[0] * size[0] + size[1] * size[1]);
    case PrimitiveType::Torus:
      return size[0] + size[1];
  }
  return 0;
}

bool intersect(const Scene& scene, const Vec3& origin, const Vec3& direction, Hit& hit) {
  double best = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < scene.primitives.size(); ++i) {
    const Primitive& p = scene.primitives[i];
    const Vec3 o = to_local(p.rotation, sub(origin, p.center)), d = to_local(p.rotation, direction);
    Vec3 n{0, 0, 0};
    const double t = intersect_local(p, o, d, n);
    if (t < best) {
      best = t;
      hit.t = t;
      hit.primitive = static_cast<int>(i);
      hit.local = add(o, mul(d, t));
      hit.normal = unit(to_world(p.rotation, n));
    }
  }
  return best < std::numeric_limits<double>::infinity();
}

Vec3 shade(const Scene& scene, const Hit& hit) {
  const Primitive& p = scene.primitives[hit.primitive];
  const double diffuse = std::max(0.0, dot(hit.normal, scene.light));
  const double k = scene.ambient + (1 - scene.ambient) * diffuse;
  const Vec3 a = albedo(p, hit.local);
  return {std::min(1.0, a[0] * k), std::min(1.0, a[1] * k), std::min(1.0, a[2] * k)};
}

RenderedView raycast(const Scene& scene, const Camera& cam, int supersample) {
  const int W = cam.width, H = cam.height, n = std::max(1, supersample);
  RenderedView out;
  out.rgb = torch::zeros({H, W, 3}, torch::kFloat32);
  out.depth = torch::zeros({H, W}, torch::kFloat32);
  out.mask = torch::zeros({H, W}, torch::kFloat32);
  float* rgb = out.rgb.data_ptr<float>();
  float* depth = out.depth.data_ptr<float>();
  float* mask = out.mask.data_ptr<float>();
  const Vec3 origin = cam.position();
  const auto& m = cam.world_to_camera;  // rows are the camera axes in world coordinates
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      double acc[3] = {0, 0, 0}, zsum = 0;
      int hits = 0;
      for (int sy = 0; sy < n; ++sy)
        for (int sx = 0; sx < n; ++sx) {
          const double u = x + (sx + 0.5) / n, v = y + (sy + 0.5) / n;
          // Camera-frame direction with z = 1, so the ray parameter equals the camera depth.
          const double dc[3] = {(u - cam.cx) / cam.fx, (v - cam.cy) / cam.fy, 1.0};
          const Vec3 dir = {m[0] * dc[0] + m[4] * dc[1] + m[8] * dc[2], m[1] * dc[0] + m[5] * dc[1] + m[9] * dc[2],
                            m[2] * dc[0] + m[6] * dc[1] + m[10] * dc[2]};
          Hit hit;
          if (!intersect(scene, origin, dir, hit)) continue;
          const Vec3 c = shade(scene, hit);
          for (int i = 0; i < 3; ++i) acc[i] += c[i];
          zsum += hit.t;
          ++hits;
        }
      const double inv = 1.0 / (n * n);
      const int64_t px = int64_t(y) * W + x;
      for (int i = 0; i < 3; ++i) rgb[px * 3 + i] = static_cast<float>(acc[i] * inv);
      mask[px] = static_cast<float>(hits * inv);
      depth[px] = hits ? static_cast<float>(zsum / hits) : 0.f;
    }
  return out;
}

Camera synth_camera(double azimuth, double elevation, int image_size) {
  const double f = kSynthFocalFactor * image_size;
  Camera c = spherical_camera(azimuth, elevation, kSynthCameraDistance, Vec3{0, 0, 0}, f, f, image_size, image_size);
  c.near_plane = 0.1;
  c.far_plane = 10.0;
  return c;
}

ObjectSpec random_object(uint64_t seed, int64_t index, int other_views, const ViewSpread& spread) {
  // One independent stream per object: mixing (seed, index) through splitmix64 makes objects independent of
  // generation order and thread count.
  Rng mix(seed ^ 0x5DEECE66Dull);
  Rng rng(mix.next() ^ (static_cast<uint64_t>(index) * 0xD1B54A32D192ED03ull));
  ObjectSpec spec;
  Scene& scene = spec.scene;
  const int count = rng.integer(1, 4);
  for (int i = 0; i < count; ++i) {
    Primitive p;
    p.type = static_cast<PrimitiveType>(rng.integer(0, 4));
    // Centres in a ball of radius 0.45 (rejection sampling keeps the density uniform).
    do {
      p.center = {rng.uniform(-0.45, 0.45), rng.uniform(-0.45, 0.45), rng.uniform(-0.45, 0.45)};
    } while (length(p.center) > 0.45);
    if (i == 0) p.center = mul(p.center, 0.3);  // one part near the middle keeps objects compact
    p.rotation = random_rotation(rng);
    switch (p.type) {
      case PrimitiveType::Sphere:
        p.size = {rng.uniform(0.2, 0.5), 0, 0};
        break;
      case PrimitiveType::Box:
        p.size = {rng.uniform(0.12, 0.45), rng.uniform(0.12, 0.45), rng.uniform(0.12, 0.45)};
        break;
      case PrimitiveType::Cylinder:
        p.size = {rng.uniform(0.1, 0.35), rng.uniform(0.15, 0.5), 0};
        break;
      case PrimitiveType::Cone:
        p.size = {rng.uniform(0.15, 0.4), rng.uniform(0.2, 0.5), 0};
        break;
      case PrimitiveType::Torus:
        p.size = {rng.uniform(0.2, 0.4), rng.uniform(0.06, 0.15), 0};
        break;
    }
    const double roll = rng.uniform();
    p.texture = roll < 0.4 ? TextureType::Solid : (roll < 0.7 ? TextureType::Stripes : TextureType::Checker);
    const double hue = rng.uniform();
    p.color_a = hsv_to_rgb(hue, rng.uniform(0.4, 1.0), rng.uniform(0.6, 1.0));
    p.color_b = hsv_to_rgb(hue + rng.uniform(0.25, 0.75), rng.uniform(0.3, 1.0), rng.uniform(0.2, 0.7));
    p.frequency = rng.uniform(4.0, 10.0);
    scene.primitives.push_back(p);
  }
  // Centre and scale the object to the benchmark's bounding radius (textures scale with it).
  Vec3 centre{0, 0, 0};
  double weight = 0;
  for (const auto& p : scene.primitives) {
    const double w = std::pow(p.bounding_radius(), 3);
    centre = add(centre, mul(p.center, w));
    weight += w;
  }
  centre = mul(centre, 1.0 / weight);
  double bound = 0;
  for (auto& p : scene.primitives) {
    p.center = sub(p.center, centre);
    bound = std::max(bound, length(p.center) + p.bounding_radius());
  }
  const double s = kSynthObjectRadius / bound;
  for (auto& p : scene.primitives) {
    p.center = mul(p.center, s);
    p.size = mul(p.size, s);
    p.frequency /= s;
  }
  // Input view: any azimuth, elevation from slightly below to well above.
  spec.input_azimuth = rng.uniform(0, 2 * kPi);
  spec.input_elevation = rng.uniform(-10, 40) * kDeg;
  // Other views: azimuth offsets stratified over ±spread.azimuth_deg (at least 10° away from the input), elevation
  // jittered by ±spread.elevation_deg around the input's, within [−15°, 55°] widened by the extra jitter (the
  // defaults, ±60° and ±20°, keep the unseen parts learnable yet measurable; 180° shows the back).
  const double a = spread.azimuth_deg, e = spread.elevation_deg, widen = std::max(0.0, e - 20.0);
  const double lowest = std::max(-85.0, -15.0 - widen), highest = std::min(85.0, 55.0 + widen);
  for (int k = 0; k < other_views; ++k) {
    double offset = -a + 2 * a * (k + rng.uniform(0.1, 0.9)) / other_views;
    if (std::abs(offset) < 10.0) offset = offset < 0 ? -10.0 : 10.0;
    spec.view_azimuths.push_back(spec.input_azimuth + offset * kDeg);
    spec.view_elevations.push_back(std::clamp(spec.input_elevation / kDeg + rng.uniform(-e, e), lowest, highest) *
                                   kDeg);
  }
  // Light from the input camera's side and above, with a random lateral tilt, so the input view is lit.
  const double ce = std::cos(spec.input_elevation);
  const Vec3 to_camera{ce * std::sin(spec.input_azimuth), -std::sin(spec.input_elevation),
                       -ce * std::cos(spec.input_azimuth)};
  const Vec3 lateral{rng.uniform(-0.6, 0.6), rng.uniform(-0.3, 0.3), rng.uniform(-0.6, 0.6)};
  scene.light = unit(add(add(to_camera, Vec3{0, -0.8, 0}), lateral));
  scene.ambient = kSynthAmbient;
  return spec;
}

nlohmann::json object_to_json(const ObjectSpec& spec, uint64_t seed, int64_t index) {
  using json = nlohmann::json;
  json prims = json::array();
  for (const auto& p : spec.scene.primitives) {
    prims.push_back({{"type", primitive_name(p.type)},
                     {"center", p.center},
                     {"rotation_local_to_world", p.rotation},
                     {"size", p.size},
                     {"texture", texture_name(p.texture)},
                     {"color_a", p.color_a},
                     {"color_b", p.color_b},
                     {"frequency", p.frequency}});
  }
  json views = json::array();
  views.push_back({{"azimuth_deg", spec.input_azimuth / kDeg}, {"elevation_deg", spec.input_elevation / kDeg}});
  for (size_t k = 0; k < spec.view_azimuths.size(); ++k)
    views.push_back({{"azimuth_deg", spec.view_azimuths[k] / kDeg}, {"elevation_deg", spec.view_elevations[k] / kDeg}});
  return {{"seed", seed},
          {"index", index},
          {"input_view", 0},
          {"primitives", prims},
          {"light_direction", spec.scene.light},
          {"ambient", spec.scene.ambient},
          {"views", views},
          {"camera_distance", kSynthCameraDistance},
          {"focal_factor", kSynthFocalFactor}};
}

}  // namespace fresnel::synth
