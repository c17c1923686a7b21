// Package infra builds what infra/template.yaml deploys and checks the
// template itself.
//
// Build compiles every functions/<name> into a Lambda package,
// dist/<name>.zip holding one executable bootstrap, for the runtime the
// template names: provided.al2023 on arm64 (glibc 2.34). Functions whose
// import graph has no cgo are built with CGO_ENABLED=0; the one that links
// liblinear (train) is cross-compiled with Debian's aarch64-linux-gnu
// compilers and linked statically, so it needs nothing from the runtime's
// C library. CheckBinary refuses a bootstrap that is not arm64 or that
// needs a glibc symbol version newer than the runtime has. The zips are
// deterministic: fixed times, mode 0755.
//
// CheckTemplate checks the template against the CloudFormation resource
// specification (the parts telcolake uses, vendored gzipped from npm's
// @aws-cdk/cfnspec under spec/) and the SAM resource types, resolves every
// !Ref, !GetAtt and !Sub, checks IAM action names against a vendored list
// and every function's CodeUri, Handler, Runtime and Architectures against
// what Build produces.
package infra
