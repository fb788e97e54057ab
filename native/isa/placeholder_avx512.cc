// (no AVX-512 kernels yet)
