// The per-Gaussian end of every CPU backward pass: the per-entry gradient slots summed per Gaussian in a fixed
// order, then the projection and colour (SH) backward.
#include <vector>

#include "render/camera_params.hpp"
#include "render/gaussian_arrays.hpp"
#include "render/tile_grid.hpp"

namespace fresnel::raster {

using gmath::ProjectionState;

// Sums the slots per Gaussian (each field over tiles and entries in a fixed order: deterministic), then
// runs the projection and colour backward per Gaussian, adding into the gradient tensors.
template <typename S>
void finish_backward(const Inputs& in, const Camera& camera, const Settings& s, const CameraState& st,
                     const SlotLayout& L, const S* slots, bool has_depth_grad, Grads& g) {
  const auto cam = camera_params<S>(camera, s);
  const int64_t M = st.order.size(0);
  const int64_t ntiles = int64_t(L.count.size());
  const int64_t V = L.total;
  std::vector<S> per(size_t(kNumGrads) * M, S(0));
  const int32_t* ent = st.entries.data_ptr<int32_t>();
  const int64_t* off = st.tile_offsets.data_ptr<int64_t>();
  at::parallel_for(0, kNumGrads, 1, [&](int64_t fb, int64_t fe) {
    for (int64_t f = fb; f < fe; ++f) {
      S* pf = per.data() + f * M;
      const S* sf = slots + f * V;
      for (int64_t t = 0; t < ntiles; ++t) {
        const int32_t* e = ent + off[t];
        const S* sl = sf + L.offset[t];
        for (int64_t j = 0; j < L.count[t]; ++j) pf[e[j]] += sl[j];
      }
    }
  });
  const int32_t* order = st.order.data_ptr<int32_t>();
  const GaussianArrays<S> ga = gaussian_arrays<S>(in, s);
  const GaussianGradArrays<S> gg = gaussian_grad_arrays<S>(g);
  const int k_used = (s.sh_degree + 1) * (s.sh_degree + 1);
  at::parallel_for(0, M, 256, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      S pg[kNumGrads];
      bool any = false;
      for (int f = 0; f < kNumGrads; ++f) {
        pg[f] = per[f * M + r];
        any = any || pg[f] != S(0);
      }
      if (!any) continue;
      const int64_t i = order[r];
      ProjectionState<S> pst;
      S u, v, conic[3], z;
      gmath::project(cam, ga.means + 3 * i, ga.quats + 4 * i, ga.scales + 3 * i, pst, u, v, conic, z);
      const S gconic[3] = {pg[gA], pg[gB], pg[gC]};
      S gmean[3] = {0, 0, 0}, gquat[4], gscale[3];
      // pg[gO] is dL/d(o·ρ): the record holds the Mip filter's compensated opacity.
      gmath::project_backward(cam, ga.quats + 4 * i, ga.scales + 3 * i, pst, conic, pg[gU], pg[gV], gconic,
                              has_depth_grad ? pg[gZ] : S(0), pg[gO] * ga.opacities[i], gmean, gquat, gscale);
      gg.opacities[i] += pg[gO] * pst.rho;
      if (ga.sh) {
        S d[3], b[16];
        const S inv = gmath::view_dir(cam, ga.means + 3 * i, d);
        gmath::sh_basis(s.sh_degree, d, b);
        const S* c = ga.colors_of(i);
        S gb[16] = {0};
        for (int ch = 0; ch < 3; ++ch) {
          S raw = S(0.5);
          for (int k = 0; k < k_used; ++k) raw += b[k] * c[3 * k + ch];
          if (raw < S(0)) continue;  // colour clamped at 0
          const S gch = pg[gCol0 + ch];
          for (int k = 0; k < k_used; ++k) {
            gg.colors[(i * ga.color_rows + k) * 3 + ch] += b[k] * gch;
            gb[k] += c[3 * k + ch] * gch;
          }
        }
        S gd[3] = {0, 0, 0};
        gmath::sh_basis_backward(s.sh_degree, d, gb, gd);
        gmath::view_dir_backward(d, inv, gd, gmean);
      } else {
        for (int ch = 0; ch < 3; ++ch) gg.colors[3 * i + ch] += pg[gCol0 + ch];
      }
      if (gg.phases)
        for (int ch = 0; ch < 3; ++ch) gg.phases[3 * i + ch] += pg[gPhi0 + ch];
      for (int j = 0; j < 3; ++j) {
        gg.means[3 * i + j] += gmean[j];
        gg.scales[3 * i + j] += gscale[j];
      }
      for (int j = 0; j < 4; ++j) gg.quats[4 * i + j] += gquat[j];
    }
  });
}

template void finish_backward<float>(const Inputs&, const Camera&, const Settings&, const CameraState&,
                                     const SlotLayout&, const float*, bool, Grads&);
template void finish_backward<double>(const Inputs&, const Camera&, const Settings&, const CameraState&,
                                      const SlotLayout&, const double*, bool, Grads&);

}  // namespace fresnel::raster
