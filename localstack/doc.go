// Package localstack is telcolake's local AWS for machines without Docker:
// an embedded S3 server (versitygw, POSIX backend) with object-created
// notifications, a Lambda runner that runs the real function binaries as
// custom runtimes behind a Runtime API server, schedules, and an HTTP
// gateway producing API Gateway v2 events — all wired from
// infra/template.yaml. LocalStack itself, for Docker users, is configured
// by the files next to this package.
package localstack
