// Precompiled header: the expensive, stable includes shared by every torch translation unit.
#pragma once
#include <ATen/Parallel.h>
#include <torch/torch.h>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>
