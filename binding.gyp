{
  "targets": [
    {
      "target_name": "kernels_avx512",
      "type": "static_library",
      "sources": ["<!@(node -p \"require('fs').readdirSync('native/isa').filter(f => f.endsWith('_avx512.cc')).map(f => 'native/isa/' + f).join(' ')\")"],
      "include_dirs": ["native"],
      "cflags_cc": ["-std=c++17", "-O3", "-fPIC", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mfma", "-mf16c", "-mavx2"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"]
    },
    {
      "target_name": "kernels_avx512bf16",
      "type": "static_library",
      "sources": ["<!@(node -p \"require('fs').readdirSync('native/isa').filter(f => f.endsWith('_avx512bf16.cc')).map(f => 'native/isa/' + f).join(' ')\")"],
      "include_dirs": ["native"],
      "cflags_cc": ["-std=c++17", "-O3", "-fPIC", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx512bf16", "-mfma", "-mf16c", "-mavx2"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"]
    },
    {
      "target_name": "kernels_avx2",
      "type": "static_library",
      "sources": ["<!@(node -p \"require('fs').readdirSync('native/isa').filter(f => f.endsWith('_avx2.cc')).map(f => 'native/isa/' + f).join(' ')\")"],
      "include_dirs": ["native"],
      "cflags_cc": ["-std=c++17", "-O3", "-fPIC", "-mavx2", "-mfma", "-mf16c"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"]
    },
    {
      "target_name": "peft_ts_native",
      "dependencies": ["kernels_avx512", "kernels_avx512bf16", "kernels_avx2"],
      "sources": ["<!@(node -p \"require('fs').readdirSync('native').filter(f => f.endsWith('.cc')).map(f => 'native/' + f).join(' ')\")"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-pthread"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      "ldflags": ["-pthread"]
    }
  ]
}
