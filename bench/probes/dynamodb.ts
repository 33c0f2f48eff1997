// The DynamoDB client with the commands ours sends; the floor pays for this too.
import { DynamoDBClient, GetItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";

export const client = new DynamoDBClient({});
export const commands = [GetItemCommand, UpdateItemCommand];
