// (no AVX2 kernels yet)
