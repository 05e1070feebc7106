// 16-byte SIMD lanes for the CPU tile kernels (4 floats or 2 doubles), written with the GCC/Clang vector
// extension so they compile to SSE2 on every x86-64 (no -march flags needed) and to NEON on ARM.
// Every lane computes exactly the scalar expression, in the same operation order, so a lane's result
// does not depend on which lane or group it ran in.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace fresnel::raster::lanes {

template <typename S>
struct Lanes {
  static constexpr int kWidth = int(16 / sizeof(S));
  using Int = std::conditional_t<sizeof(S) == 4, int32_t, int64_t>;  // mask lane type (all bits set = true)
  typedef S V __attribute__((vector_size(16)));
  typedef Int M __attribute__((vector_size(16)));
};

template <typename V, typename T>
inline V load(const T* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename V, typename T>
inline void store(T* p, V v) {
  std::memcpy(p, &v, sizeof v);
}
template <typename V, typename T>
inline V splat(T x) {
  return V{} + x;
}

// True when any lane of mask m is set.
template <typename M>
inline bool any(M m) {
#if defined(__SSE2__)
  __m128i bits;
  std::memcpy(&bits, &m, sizeof bits);
  return _mm_movemask_epi8(bits) != 0;
#else
  for (size_t i = 0; i < sizeof(M) / sizeof(m[0]); ++i)
    if (m[i]) return true;
  return false;
#endif
}

// Number of set lanes.
template <typename M>
inline int count(M m) {
  int n = 0;
  for (size_t i = 0; i < sizeof(M) / sizeof(m[0]); ++i) n += m[i] != 0;
  return n;
}

// Sum of the lanes in a fixed order (lane 0 first).
template <typename V>
inline auto hsum(V v) {
  auto s = v[0];
  for (size_t i = 1; i < sizeof(V) / sizeof(v[0]); ++i) s += v[i];
  return s;
}

// e^x for x ≤ 0 without a libm call: Cody–Waite range reduction and a degree-6 polynomial (relative
// error ≈ 2e-7, about twice as fast as expf per value before vectorising). Double lanes use std::exp
// (the double path exists for gradient checks).
inline Lanes<float>::V exp_nonpos(Lanes<float>::V x) {
  using V = Lanes<float>::V;
  using M = Lanes<float>::M;
  x = x < -87.0f ? splat<V>(-87.0f) : x;
  x = x > 0.0f ? splat<V>(0.0f) : x;
  // Round to nearest with the 1.5·2^23 trick.
  const V n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const V r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  V p = splat<V>(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const M bits = (__builtin_convertvector(n, M) + 127) << 23;
  V scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}
inline Lanes<double>::V exp_nonpos(Lanes<double>::V x) {
  for (int i = 0; i < Lanes<double>::kWidth; ++i) x[i] = std::exp(x[i]);
  return x;
}

}  // namespace fresnel::raster::lanes
