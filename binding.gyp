{
  "targets": [
    {
      "target_name": "gamesrv",
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "include_dirs": ["native/include"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "conditions": [
        ["OS=='win'", {
          "sources": ["<!@(node scripts/gyp-sources.cjs win)"],
          "libraries": ["bcrypt.lib", "ws2_32.lib", "mswsock.lib"],
          "defines": ["GAMESRV_HAVE_SQLITE=0", "GAMESRV_HAVE_LIBPQ=0"],
          "msvs_settings": {"VCCLCompilerTool": {"AdditionalOptions": ["/std:c++20"], "ExceptionHandling": 1}}
        }, {
          "sources": ["<!@(node scripts/gyp-sources.cjs posix)"],
          "conditions": [
            ["OS=='linux'", {"defines": ["GAMESRV_HAVE_SQLITE=1", "GAMESRV_HAVE_LIBPQ=1"],
                              "cflags_cc": ["<!@(pkg-config --cflags libpq)"],
                              "libraries": ["-lsqlite3", "<!@(pkg-config --libs libpq)"]},
             {"defines": ["GAMESRV_HAVE_SQLITE=0", "GAMESRV_HAVE_LIBPQ=0"]}]
          ],
          "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++1y", "-std=gnu++14"],
          "cflags_cc": ["-std=c++20", "-fexceptions", "-O2"],
          "xcode_settings": {"CLANG_CXX_LANGUAGE_STANDARD": "c++20", "GCC_ENABLE_CPP_EXCEPTIONS": "YES"}
        }]
      ]
    }
  ]
}
