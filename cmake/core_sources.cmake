# The torch-free core (config, RLE codec, records, the extension filters on final records):
# paths under src/. The one list that builds sam2amg_core (src/CMakeLists.txt) and that
# cmake/check_layers.cmake holds to the core's rule (no ATen, no I/O), so the two cannot differ.
set(SAM2AMG_CORE_FILES
  amg/amg_config.h amg/amg_config.cpp
  amg/mask_filters.h amg/mask_filters.cpp
  amg/mask_record.h
  amg/rle_host.h amg/rle_host.cpp)
