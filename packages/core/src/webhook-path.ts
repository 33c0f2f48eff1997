/**
 * The path Stripe posts to, on the stage's router and on the local receiver alike. Infra
 * routes it to the handler and builds the endpoint url from it.
 */
export const webhookPath = "/stripe/webhook";
