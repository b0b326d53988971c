"""Terraform plugin protocol 6: ``tfplugin6.proto`` (MPL-2.0, HashiCorp) and its generated
messages (``python -m grpc_tools.protoc -I. --python_out=. tfplugin6.proto``)."""
