// The loss history of a training run: key → one value per epoch, written as JSON, CSV and a loss-curve PNG.
// Rows come from the terms a trainer actually computed, so every optimised term shows up.
#pragma once
#include <map>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace fresnel::train {

// Appends one epoch's row. A key first seen now gets nulls for the earlier epochs; a known key missing from the
// row gets a null, so every list has one entry per epoch.
void append_history_row(nlohmann::json& history, const std::map<std::string, double>& row);

// Keys the loop records besides loss terms (not plotted as losses).
bool is_epoch_info_key(const std::string& key);

// training_history_{tag}.json, training_history_{tag}.csv and (with plot) training_metrics_{tag}.png in `dir`,
// each written atomically.
void write_history_files(const std::string& dir, const std::string& tag, const nlohmann::json& history, bool plot);

// Draws every loss term per epoch (log scale when they span decades) with OpenCV; atomic.
void write_loss_plot(const std::string& path, const nlohmann::json& history);

}  // namespace fresnel::train
