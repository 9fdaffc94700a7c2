"""A local Amazon S3 Vectors service: the rest-json API that boto3 and the AWS CLI speak, on 127.0.0.1."""

import os

# One BLAS thread per request thread, set before numpy loads: with OpenBLAS's own threads, concurrent
# queries (query_vectors_batch runs 16) oversubscribe the CPUs and each takes 8 times as long.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
