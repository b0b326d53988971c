# The store's web frontend: a static site on S3 behind CloudFront and a WAF, in the
# frontend account. The browser calls the store service's public API, not the mesh: CloudFront
# sends /api/* to the store runtime's ingress gateway (var.api_origin).

module "site" {
  source    = "../modules/static_site"
  providers = { aws = aws.frontend }

  name        = var.frontend.site
  price_class = var.frontend.price_class
  api_origin  = var.api_origin
  tags        = var.tags
}
