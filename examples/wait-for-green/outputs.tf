output "state_machine_arn" {
  description = "The pipeline that waits for the green window."
  value       = aws_sfn_state_machine.this.arn
}

output "rejected_submissions_queue_url" {
  description = "Where a rejected submission (with its errors) goes; the waiting step then times out."
  value       = module.carbon_aware.rejected_submissions_queue_url
}
