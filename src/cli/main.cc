// The ergon command: a thin layer over the library.
#include <cstdio>

int main() {
  std::puts("ergon " ERGON_VERSION);
  return 0;
}
