// The frames of a video stored as a folder of images.
#pragma once
#include <string>
#include <vector>

namespace tv3s::io {

// "Natural" order: runs of digits compare as numbers, so frame2 < frame10 (and
// 00002 = 2 sorts before 00010); ties fall back to plain byte order.
bool natural_less(const std::string& a, const std::string& b);

// Whether `path` names a PNG or JPEG file by its extension: .png, .jpg, .jpeg, any case.
bool has_image_extension(const std::string& path);

// The PNG/JPEG files (.png, .jpg, .jpeg, any case) directly inside `dir`, in natural
// order of their file names. Throws "<dir>: ..." when it is not a readable folder or holds
// no such file.
std::vector<std::string> list_frames(const std::string& dir);

}  // namespace tv3s::io
