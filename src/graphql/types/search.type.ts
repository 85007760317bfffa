import { Field, ObjectType, registerEnumType } from 'type-graphql';
import { MessageType } from './message.type';
import { connectionOf } from './page.type';

/** Contract enum SearchOrder. */
export enum SearchOrder {
  RELEVANCE = 'RELEVANCE',
  NEWEST = 'NEWEST',
}
registerEnumType(SearchOrder, { name: 'SearchOrder' });

/** Contract type SearchHit. The source object is the domain's SearchHit (a MessageView and its excerpt). */
@ObjectType('SearchHit')
export class SearchHitType {
  @Field(() => MessageType) message!: MessageType;
  @Field(() => String, { description: 'An excerpt of the content with every match wrapped in <mark></mark>, the rest HTML-escaped' })
  highlight!: string;
}

export const SearchHitConnection = connectionOf(SearchHitType, 'SearchHit');
