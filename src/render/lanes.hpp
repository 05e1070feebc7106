// SIMD lanes for the CPU tile kernels, written with the GCC/Clang vector extension: 16-byte vectors
// (4 floats or 2 doubles) compile to SSE2 on every x86-64 and to NEON on ARM; 32-byte vectors are used
// only inside functions compiled for AVX2 and chosen at run time (raster_cpu.cpp), so the binary still
// runs on any x86-64. No FMA is enabled, so every lane computes exactly the scalar expression in the same
// operation order: a lane's result does not depend on the vector width or on which lane it ran in.
// Helpers take vectors by reference and are always inlined (no vector ABI between differently compiled
// functions).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace fresnel::raster::lanes {

#define FRESNEL_LANES_INLINE __attribute__((always_inline)) inline

template <typename S, int kBytes = 16>
struct Lanes {
  static constexpr int kWidth = int(kBytes / sizeof(S));
  using Int = std::conditional_t<sizeof(S) == 4, int32_t, int64_t>;  // mask lane type (all bits set = true)
  typedef S V __attribute__((vector_size(kBytes)));
  typedef Int M __attribute__((vector_size(kBytes)));
};

template <typename V, typename T>
FRESNEL_LANES_INLINE V load(const T* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename V, typename T>
FRESNEL_LANES_INLINE void store(T* p, const V& v) {
  std::memcpy(p, &v, sizeof v);
}
template <typename V, typename T>
FRESNEL_LANES_INLINE V splat(T x) {
  return V{} + x;
}

// True when any lane of mask m is set.
template <typename M>
FRESNEL_LANES_INLINE bool any(const M& m) {
#if defined(__SSE2__)
  __m128i half[sizeof(M) / 16];
  std::memcpy(half, &m, sizeof m);
  __m128i bits = half[0];
  for (size_t i = 1; i < sizeof(M) / 16; ++i) bits = _mm_or_si128(bits, half[i]);
  return _mm_movemask_epi8(bits) != 0;
#else
  for (size_t i = 0; i < sizeof(M) / sizeof(m[0]); ++i)
    if (m[i]) return true;
  return false;
#endif
}

// Number of set lanes.
template <typename M>
FRESNEL_LANES_INLINE int count(const M& m) {
  int n = 0;
  for (size_t i = 0; i < sizeof(M) / sizeof(m[0]); ++i) n += m[i] != 0;
  return n;
}

// Sum of the lanes in a fixed order (lane 0 first).
template <typename V>
FRESNEL_LANES_INLINE auto hsum(const V& v) {
  auto s = v[0];
  for (size_t i = 1; i < sizeof(V) / sizeof(v[0]); ++i) s += v[i];
  return s;
}

// e^x for x ≤ 0 without a libm call: Cody–Waite range reduction and a degree-6 polynomial (relative
// error ≈ 2e-7, about twice as fast as expf per value before vectorising). Double lanes use std::exp
// (the double path exists for gradient checks).
template <typename V>
FRESNEL_LANES_INLINE V exp_nonpos(const V& arg) {
  if constexpr (std::is_same_v<std::decay_t<decltype(arg[0])>, double>) {
    V x = arg;
    for (size_t i = 0; i < sizeof(V) / sizeof(double); ++i) x[i] = std::exp(x[i]);
    return x;
  } else {
    using M = decltype(arg < arg);
    V x = arg < -87.0f ? splat<V>(-87.0f) : arg;
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
}

}  // namespace fresnel::raster::lanes
