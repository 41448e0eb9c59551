# Included by CMake before every project() of whisper.cpp's build (through
# CMAKE_PROJECT_INCLUDE_BEFORE in .cargo/config.toml): whisper-rs-sys passes
# only WHISPER_* and CMAKE_* settings on, and ggml's own options are GGML_*.
#
# GGML_LLAMAFILE: ggml's tiled matrix multiplication (llamafile's tinyBLAS)
# instead of one dot product per row and column; off by default in
# whisper.cpp's copy of ggml, on in llama.cpp's.
set(GGML_LLAMAFILE ON CACHE BOOL "ggml: use LLAMAFILE")
