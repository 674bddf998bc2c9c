#!/bin/bash
# Serve a page, then tell the group the instance is ready (the fleet's launch lifecycle hook).
set -euo pipefail
dnf install -y nginx
systemctl enable --now nginx

token=$(curl -sX PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 300")
meta() { curl -s -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/meta-data/$1"; }
instance_id=$(meta instance-id)
region=$(meta placement/region)
group=$(aws autoscaling describe-auto-scaling-instances --region "$region" --instance-ids "$instance_id" \
  --query 'AutoScalingInstances[0].AutoScalingGroupName' --output text)
aws autoscaling complete-lifecycle-action --region "$region" --auto-scaling-group-name "$group" \
  --lifecycle-hook-name launch --lifecycle-action-result CONTINUE --instance-id "$instance_id"
