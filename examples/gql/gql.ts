/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "fragment AuthFields on AuthPayload {\n  accessToken\n  accessTokenExpiresAt\n  refreshToken\n  user {\n    id\n    username\n    fullName\n  }\n}\n\nfragment MessageFields on Message {\n  id\n  seq\n  conversationId\n  kind\n  content\n  clientMessageId\n  createdAt\n  sender {\n    id\n    username\n  }\n  attachments {\n    id\n    url\n    thumbnailUrl\n    fileName\n    mimeType\n    size\n    width\n    height\n  }\n}\n\nmutation Register($input: RegisterInput!) {\n  register(input: $input) {\n    ...AuthFields\n  }\n}\n\nmutation Login($username: String!, $password: String!) {\n  login(username: $username, password: $password) {\n    ...AuthFields\n  }\n}\n\nquery Conversations($first: Int, $after: String) {\n  conversations(first: $first, after: $after) {\n    totalCount\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    edges {\n      node {\n        id\n        kind\n        title\n        unreadCount\n        lastActivityAt\n        lastMessage {\n          ...MessageFields\n        }\n      }\n    }\n  }\n}\n\nmutation OpenDirectChat($username: String!) {\n  openDirectChat(username: $username) {\n    id\n    kind\n    title\n  }\n}\n\nmutation SendMessage($input: SendMessageInput!) {\n  sendMessage(input: $input) {\n    ...MessageFields\n  }\n}\n\nsubscription MessageAdded($conversationId: ID) {\n  messageAdded(conversationId: $conversationId) {\n    ...MessageFields\n  }\n}": typeof types.AuthFieldsFragmentDoc,
};
const documents: Documents = {
    "fragment AuthFields on AuthPayload {\n  accessToken\n  accessTokenExpiresAt\n  refreshToken\n  user {\n    id\n    username\n    fullName\n  }\n}\n\nfragment MessageFields on Message {\n  id\n  seq\n  conversationId\n  kind\n  content\n  clientMessageId\n  createdAt\n  sender {\n    id\n    username\n  }\n  attachments {\n    id\n    url\n    thumbnailUrl\n    fileName\n    mimeType\n    size\n    width\n    height\n  }\n}\n\nmutation Register($input: RegisterInput!) {\n  register(input: $input) {\n    ...AuthFields\n  }\n}\n\nmutation Login($username: String!, $password: String!) {\n  login(username: $username, password: $password) {\n    ...AuthFields\n  }\n}\n\nquery Conversations($first: Int, $after: String) {\n  conversations(first: $first, after: $after) {\n    totalCount\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    edges {\n      node {\n        id\n        kind\n        title\n        unreadCount\n        lastActivityAt\n        lastMessage {\n          ...MessageFields\n        }\n      }\n    }\n  }\n}\n\nmutation OpenDirectChat($username: String!) {\n  openDirectChat(username: $username) {\n    id\n    kind\n    title\n  }\n}\n\nmutation SendMessage($input: SendMessageInput!) {\n  sendMessage(input: $input) {\n    ...MessageFields\n  }\n}\n\nsubscription MessageAdded($conversationId: ID) {\n  messageAdded(conversationId: $conversationId) {\n    ...MessageFields\n  }\n}": types.AuthFieldsFragmentDoc,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment AuthFields on AuthPayload {\n  accessToken\n  accessTokenExpiresAt\n  refreshToken\n  user {\n    id\n    username\n    fullName\n  }\n}\n\nfragment MessageFields on Message {\n  id\n  seq\n  conversationId\n  kind\n  content\n  clientMessageId\n  createdAt\n  sender {\n    id\n    username\n  }\n  attachments {\n    id\n    url\n    thumbnailUrl\n    fileName\n    mimeType\n    size\n    width\n    height\n  }\n}\n\nmutation Register($input: RegisterInput!) {\n  register(input: $input) {\n    ...AuthFields\n  }\n}\n\nmutation Login($username: String!, $password: String!) {\n  login(username: $username, password: $password) {\n    ...AuthFields\n  }\n}\n\nquery Conversations($first: Int, $after: String) {\n  conversations(first: $first, after: $after) {\n    totalCount\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    edges {\n      node {\n        id\n        kind\n        title\n        unreadCount\n        lastActivityAt\n        lastMessage {\n          ...MessageFields\n        }\n      }\n    }\n  }\n}\n\nmutation OpenDirectChat($username: String!) {\n  openDirectChat(username: $username) {\n    id\n    kind\n    title\n  }\n}\n\nmutation SendMessage($input: SendMessageInput!) {\n  sendMessage(input: $input) {\n    ...MessageFields\n  }\n}\n\nsubscription MessageAdded($conversationId: ID) {\n  messageAdded(conversationId: $conversationId) {\n    ...MessageFields\n  }\n}"): (typeof documents)["fragment AuthFields on AuthPayload {\n  accessToken\n  accessTokenExpiresAt\n  refreshToken\n  user {\n    id\n    username\n    fullName\n  }\n}\n\nfragment MessageFields on Message {\n  id\n  seq\n  conversationId\n  kind\n  content\n  clientMessageId\n  createdAt\n  sender {\n    id\n    username\n  }\n  attachments {\n    id\n    url\n    thumbnailUrl\n    fileName\n    mimeType\n    size\n    width\n    height\n  }\n}\n\nmutation Register($input: RegisterInput!) {\n  register(input: $input) {\n    ...AuthFields\n  }\n}\n\nmutation Login($username: String!, $password: String!) {\n  login(username: $username, password: $password) {\n    ...AuthFields\n  }\n}\n\nquery Conversations($first: Int, $after: String) {\n  conversations(first: $first, after: $after) {\n    totalCount\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    edges {\n      node {\n        id\n        kind\n        title\n        unreadCount\n        lastActivityAt\n        lastMessage {\n          ...MessageFields\n        }\n      }\n    }\n  }\n}\n\nmutation OpenDirectChat($username: String!) {\n  openDirectChat(username: $username) {\n    id\n    kind\n    title\n  }\n}\n\nmutation SendMessage($input: SendMessageInput!) {\n  sendMessage(input: $input) {\n    ...MessageFields\n  }\n}\n\nsubscription MessageAdded($conversationId: ID) {\n  messageAdded(conversationId: $conversationId) {\n    ...MessageFields\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;