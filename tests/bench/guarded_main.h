// What the benchmarks' main functions share: nothing escapes main. An exception ends the run
// with exit status 2 and says why on stderr, as a failed call does.
#pragma once

#include <exception>
#include <iostream>
#include <string_view>

namespace shido::bench {

// body() is main's work; program names the benchmark in the message.
template <class Body>
int guarded_main(std::string_view program, Body body) {
  try {
    return body();
  } catch (const std::exception& error) {
    std::cerr << program << ": " << error.what() << "\n";
    return 2;
  }
}

}  // namespace shido::bench
