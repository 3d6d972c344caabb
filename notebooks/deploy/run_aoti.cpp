// Run an AOTInductor package (.pt2) from C++ through libtorch (notebook 08).
//
// usage: run_aoti PACKAGE.pt2 N IN.f32 OUT.f32
// IN.f32 holds N float32 images, NCHW 1x28x28; OUT.f32 receives N x 10 float32 logits.
#include <ATen/ATen.h>
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s PACKAGE.pt2 N IN.f32 OUT.f32\n", argv[0]);
    return 2;
  }
  const int64_t n = std::atoll(argv[2]);
  std::vector<float> images(n * 28 * 28);
  std::ifstream in(argv[3], std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(images.data()), images.size() * sizeof(float))) {
    std::fprintf(stderr, "cannot read %zu floats from %s\n", images.size(), argv[3]);
    return 1;
  }
  at::Tensor x = at::from_blob(images.data(), {n, 1, 28, 28}, at::kFloat);

  torch::inductor::AOTIModelPackageLoader loader(argv[1]);
  std::vector<at::Tensor> outputs = loader.run({x});
  at::Tensor logits = outputs[0].contiguous();

  std::ofstream out(argv[4], std::ios::binary);
  out.write(reinterpret_cast<const char*>(logits.data_ptr<float>()), logits.numel() * sizeof(float));
  std::printf("C++: ran %lld images through the AOTInductor package, %lld logits written\n",
              static_cast<long long>(n), static_cast<long long>(logits.numel()));
  return 0;
}
