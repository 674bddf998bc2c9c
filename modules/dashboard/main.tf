locals {
  period = 300

  # The console of each partition; the commercial one has a Regional host name.
  console_url = lookup({
    aws-cn     = "https://console.amazonaws.cn"
    aws-us-gov = "https://console.amazonaws-us-gov.com"
  }, var.partition, "https://${var.region}.console.aws.amazon.com")

  # [namespace, metric, dimension name, dimension values, stat, title]
  panels = [
    ["AWS/Lambda", "Invocations", "FunctionName", var.function_names, "Sum", "Invocations"],
    ["AWS/Lambda", "Errors", "FunctionName", var.function_names, "Sum", "Errors"],
    ["AWS/Lambda", "Duration", "FunctionName", var.function_names, "p99", "Duration p99 (ms)"],
    ["AWS/Lambda", "Throttles", "FunctionName", var.function_names, "Sum", "Throttles"],
    ["AWS/DynamoDB", "ConsumedReadCapacityUnits", "TableName", var.table_names, "Sum", "DynamoDB reads"],
    ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", var.table_names, "Sum", "DynamoDB writes"],
    ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.queue_names, "Maximum", "Dead-letter messages"],
  ]

  metric_widgets = [
    for i, p in local.panels : {
      type   = "metric"
      x      = (i % 2) * 12
      y      = floor(i / 2) * 6
      width  = 12
      height = 6
      properties = {
        title   = p[5]
        region  = var.region
        view    = "timeSeries"
        stat    = p[4]
        period  = local.period
        metrics = [for v in p[3] : [p[0], p[1], p[2], v]]
      }
    } if length(p[3]) > 0
  ]

  # The handlers' own EMF metrics, by dimension, found with SEARCH so new Regions appear by themselves.
  search_widgets = [
    for i, m in ["CarbonIntensity", "EmissionsSavedGrams"] : {
      type   = "metric"
      x      = i * 12
      y      = 100
      width  = 12
      height = 6
      properties = {
        title  = m
        region = var.region
        view   = "timeSeries"
        period = local.period
        metrics = [[{
          expression = "SEARCH('{${var.metrics_namespace}} MetricName=\"${m}\"', 'Average', ${local.period})"
          id         = "e${i}"
        }]]
      }
    }
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.create ? 1 : 0

  region         = var.region
  dashboard_name = var.dashboard_name
  dashboard_body = jsonencode({ widgets = concat(local.metric_widgets, local.search_widgets) })
}
