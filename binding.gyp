{
  "targets": [
    {
      "target_name": "rawsock",
      "sources": ["native/rawsock.cc"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-fexceptions"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
