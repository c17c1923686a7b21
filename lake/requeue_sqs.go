package lake

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// SQSRequeuer sends notifications to an SQS queue.
type SQSRequeuer struct {
	Client   *sqs.Client
	QueueURL string
}

// Requeue sends body to the queue.
func (r *SQSRequeuer) Requeue(ctx context.Context, body string) error {
	if _, err := r.Client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(r.QueueURL), MessageBody: aws.String(body)}); err != nil {
		return fmt.Errorf("send to %s: %w", r.QueueURL, err)
	}
	return nil
}
