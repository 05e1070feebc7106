// Shared fixtures of the CVS tests: a tiny synth dataset and a tiny model configuration.
#pragma once
#include <string>

#include "data/synth_dataset.hpp"
#include "synthesis/cvs_model.hpp"

namespace fresnel::synthesis::cvs_test {

// `objects` objects of `views` other views at `size`² (split 0.75/0.25/0).
inline void write_synth(const std::string& dir, int objects = 4, int views = 2, int size = 16) {
  synth::SynthOptions o;
  o.out_dir = dir;
  o.objects = objects;
  o.views = views;
  o.image_size = size;
  o.seed = 5;
  o.supersample = 1;
  o.split = {0.75, 0.25, 0.0};
  synth::generate_dataset(o);
}

// Two stages at 16² (attention at 8×8 in the encoder, decoder and middle): a few milliseconds per step.
inline CVSConfig tiny_config() {
  CVSConfig c;
  c.image_size = 16;
  c.base_channels = 32;
  c.channel_mult = {1, 2};
  c.attention_resolutions = {8};
  c.cross_attention_dim = 32;
  c.pose_embed_dim = 32;
  c.time_embed_dim = 32;
  c.image_tokens = 8;
  c.pose_tokens = 4;
  c.num_timesteps = 100;
  c.ema_decay = 0.9;
  return c;
}

}  // namespace fresnel::synthesis::cvs_test
