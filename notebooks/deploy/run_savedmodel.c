/* Run a Keras SavedModel from C through the TensorFlow C API (notebook 08).
 *
 * usage: run_savedmodel SAVED_MODEL_DIR INPUT_OP OUTPUT_OP N IN.f32 OUT.f32
 * IN.f32 holds N float32 images, NHWC 28x28x1; OUT.f32 receives N x 10 float32 logits.
 * The operation names come from `saved_model_cli show` (serving_default signature).
 */
#include <stdio.h>
#include <stdlib.h>

#include "tensorflow/c/c_api.h"

static void check(TF_Status *status, const char *what) {
  if (TF_GetCode(status) != TF_OK) {
    fprintf(stderr, "%s: %s\n", what, TF_Message(status));
    exit(1);
  }
}

static void no_free(void *data, size_t len, void *arg) { (void)data; (void)len; (void)arg; }

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s SAVED_MODEL_DIR INPUT_OP OUTPUT_OP N IN.f32 OUT.f32\n", argv[0]);
    return 2;
  }
  const int64_t n = atoll(argv[4]), dims[4] = {n, 28, 28, 1};
  const size_t in_count = (size_t)n * 28 * 28, out_count = (size_t)n * 10;
  float *images = malloc(in_count * sizeof(float));
  FILE *f = fopen(argv[5], "rb");
  if (!f || fread(images, sizeof(float), in_count, f) != in_count) {
    fprintf(stderr, "cannot read %zu floats from %s\n", in_count, argv[5]);
    return 1;
  }
  fclose(f);

  TF_Status *status = TF_NewStatus();
  TF_Graph *graph = TF_NewGraph();
  TF_SessionOptions *options = TF_NewSessionOptions();
  const char *tags[] = {"serve"};
  TF_Session *session = TF_LoadSessionFromSavedModel(options, NULL, argv[1], tags, 1, graph,
                                                     NULL, status);
  check(status, "loading the SavedModel");

  TF_Output input = {TF_GraphOperationByName(graph, argv[2]), 0};
  TF_Output output = {TF_GraphOperationByName(graph, argv[3]), 0};
  if (!input.oper || !output.oper) {
    fprintf(stderr, "no operation named %s or %s\n", argv[2], argv[3]);
    return 1;
  }
  TF_Tensor *x = TF_NewTensor(TF_FLOAT, dims, 4, images, in_count * sizeof(float), no_free, NULL);
  TF_Tensor *y = NULL;
  TF_SessionRun(session, NULL, &input, &x, 1, &output, &y, 1, NULL, 0, NULL, status);
  check(status, "running the model");

  f = fopen(argv[6], "wb");
  fwrite(TF_TensorData(y), sizeof(float), out_count, f);
  fclose(f);
  printf("C: ran %lld images through the SavedModel, %zu logits written\n", (long long)n, out_count);

  TF_DeleteTensor(x);
  TF_DeleteTensor(y);
  TF_CloseSession(session, status);
  TF_DeleteSession(session, status);
  TF_DeleteSessionOptions(options);
  TF_DeleteGraph(graph);
  TF_DeleteStatus(status);
  free(images);
  return 0;
}
