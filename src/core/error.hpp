// kiln::Error, cat and fail (public: kiln/error.hpp, so plugins and tools build errors the same
// way) with the element types every message names, for the library's own files.
#pragma once

#include "kiln/error.hpp"
#include "kiln/types.hpp"
