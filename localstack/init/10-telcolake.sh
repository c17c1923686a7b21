#!/bin/bash
# LocalStack ready hook. With `make localstack-deploy` the SAM template creates
# the buckets, the function and the S3 notification itself, so by default this
# only reports. With TELCOLAKE_INIT_BUCKETS=1 it creates the two buckets (named
# as the template names them for Stage=dev), for running the functions
# outside LocalStack against LocalStack's S3.
set -euo pipefail
account=000000000000
if [ "${TELCOLAKE_INIT_BUCKETS:-0}" = 1 ]; then
  for b in "telcolake-landing-dev-$account" "telcolake-lake-dev-$account"; do
    awslocal s3api head-bucket --bucket "$b" 2>/dev/null || awslocal s3 mb "s3://$b"
  done
  echo "telcolake: buckets ready"
else
  echo "telcolake: LocalStack ready; run 'make localstack-deploy' to deploy infra/template.yaml"
fi
