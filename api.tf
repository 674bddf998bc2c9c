################################################################################
# Submit API (AWS_IAM auth)
################################################################################

locals {
  api_routes = toset(concat([
    "POST /workloads",
    "GET /workloads",
    "GET /workloads/{workload_id}",
    "DELETE /workloads/{workload_id}",
    ], !local.create_fleets ? [] : [
    # Spot fleets (fleets.tf): their settings, state and decisions.
    "GET /fleets",
    "GET /fleets/{fleet}",
    "GET /fleets/{fleet}/decisions",
  ]))
  create_http_api = var.api_type == "http_api"
}

resource "aws_apigatewayv2_api" "this" {
  count = local.create_http_api ? 1 : 0

  region        = local.home_region
  name          = var.name
  description   = "Carbon-aware workload submission."
  protocol_type = "HTTP"

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "api" {
  count = local.create_http_api ? 1 : 0

  #checkov:skip=CKV_AWS_158:Encrypted with the CloudWatch Logs service key by default; var.kms_key_arn switches to a customer managed key.
  #checkov:skip=CKV_AWS_338:Retention is var.log_retention_in_days (default 30 days, to bound cost); raise it where policy requires a year.
  region            = local.home_region
  name              = "/aws/apigateway/${var.name}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_apigatewayv2_stage" "this" {
  count = local.create_http_api ? 1 : 0

  region      = local.home_region
  api_id      = aws_apigatewayv2_api.this[0].id
  name        = "$default"
  auto_deploy = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api[0].arn
    format = jsonencode({
      requestId      = "$context.requestId"
      requestTime    = "$context.requestTime"
      routeKey       = "$context.routeKey"
      status         = "$context.status"
      caller         = "$context.identity.caller"
      userArn        = "$context.identity.userArn"
      responseLength = "$context.responseLength"
      latency        = "$context.integrationLatency"
    })
  }

  default_route_settings {
    throttling_burst_limit = 50
    throttling_rate_limit  = 100
  }

  tags = var.tags
}

resource "aws_apigatewayv2_integration" "this" {
  count = local.create_http_api ? 1 : 0

  region                 = local.home_region
  api_id                 = aws_apigatewayv2_api.this[0].id
  integration_type       = "AWS_PROXY"
  integration_uri        = module.function["api"].invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "this" {
  for_each = local.create_http_api ? local.api_routes : toset([])

  region             = local.home_region
  api_id             = aws_apigatewayv2_api.this[0].id
  route_key          = each.key
  authorization_type = "AWS_IAM"
  target             = "integrations/${aws_apigatewayv2_integration.this[0].id}"
}

resource "aws_lambda_permission" "api" {
  count = local.create_http_api ? 1 : 0

  region        = local.home_region
  statement_id  = "AllowHttpApi"
  action        = "lambda:InvokeFunction"
  function_name = module.function["api"].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this[0].execution_arn}/*/*"
}

resource "aws_lambda_function_url" "api" {
  count = var.api_type == "function_url" ? 1 : 0

  region             = local.home_region
  function_name      = module.function["api"].function_name
  authorization_type = "AWS_IAM"
}
