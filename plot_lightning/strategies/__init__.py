"""Distributed strategies: FSDP1 usable on CPU (gloo) and CUDA, and FSDP2 sharding for ModelParallelStrategy."""
